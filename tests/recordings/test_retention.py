"""Retention: the daily purge deletes expired recordings and their files, except under
legal hold, and only by each tenant's own retention."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from recordings import services, tasks
from recordings.models import Recording
from tenants.models import AuditEntry
from tests.calls.api_support import signed

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def record(client, tenant, p2p, gateway):
    """Record acme's call for a second; returns the stopped Recording with its file."""

    def make() -> Recording:
        body = {"callLocator": {"kind": "serverCallLocator", "serverCallId": p2p.server_call_id}}
        recording_id = signed(client, tenant, "POST", "recordings", body).json()["recordingId"]
        gateway.advance(1)
        signed(client, tenant, "DELETE", f"recordings/{recording_id}")
        gateway.advance(0.1)
        return Recording.unscoped.get(recording_id=recording_id)

    return make


def files(directory) -> list:
    return sorted(directory.rglob("*.wav"))


def test_the_purge_deletes_expired_recordings_and_their_files(tenant, record, recordings_dir):
    tenant.recording_retention_days = 30
    tenant.save()
    recording = record()
    assert len(files(recordings_dir)) == 1

    with time_machine.travel(timezone.now() + timedelta(days=31)):
        purged = tasks.purge_expired()

    assert purged == 1
    assert not Recording.unscoped.filter(pk=recording.pk).exists()
    assert files(recordings_dir) == []
    assert AuditEntry.unscoped.filter(action="recording.purge").count() == 1


def test_the_purge_keeps_recordings_within_retention(tenant, record, recordings_dir):
    tenant.recording_retention_days = 30
    tenant.save()
    record()

    with time_machine.travel(timezone.now() + timedelta(days=29)):
        assert tasks.purge_expired() == 0

    assert Recording.unscoped.count() == 1
    assert len(files(recordings_dir)) == 1


def test_a_recording_under_legal_hold_is_never_purged(tenant, record, recordings_dir):
    recording = record()
    services.set_legal_hold(tenant, recording, held=True, actor=None)

    with time_machine.travel(timezone.now() + timedelta(days=3650)):
        assert tasks.purge_expired() == 0

    assert Recording.unscoped.filter(pk=recording.pk).exists()
    assert len(files(recordings_dir)) == 1


def test_a_live_recording_is_never_purged(client, tenant, p2p, gateway):
    body = {"callLocator": {"kind": "serverCallLocator", "serverCallId": p2p.server_call_id}}
    signed(client, tenant, "POST", "recordings", body)
    gateway.advance(1)

    with time_machine.travel(timezone.now() + timedelta(days=3650)):
        assert tasks.purge_expired() == 0

    assert Recording.unscoped.get().is_live


def test_finalizing_twice_announces_the_file_once(tenant, record, grid_receiver):
    recording = record()
    chunk = recording.chunks.get()

    assert tasks.finalize_chunk(chunk.pk) is False

    assert len([e for e in grid_receiver.events if "FileStatus" in e["eventType"]]) == 1


def test_recording_minutes_are_metered_once_at_the_plans_rate(tenant, record):
    from usage.models import UsageRecord

    recording = record()
    chunk = recording.chunks.get()
    tasks.finalize_chunk(chunk.pk)  # a re-run bills nothing more

    [usage] = UsageRecord.objects.for_tenant(tenant).filter(category="recording")
    assert usage.seconds == pytest.approx(1.0)
    increment = tenant.rate_plan.billing_increment_seconds
    assert usage.billable_seconds == max(increment, 1)
    assert usage.source_id == chunk.document_id


def test_migrate_schedules_the_purge_daily():
    from django_q.models import Schedule

    schedule = Schedule.objects.get(name="recordings.purge_expired")

    assert (schedule.func, schedule.schedule_type) == ("recordings.tasks.purge_expired", "D")
