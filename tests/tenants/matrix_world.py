"""The role matrix's tenant (tests/tenants/test_role_matrix.py): one object of each kind
the routes take an id of, each member's portal session, committed once for the module."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client, override_settings
from django.utils import timezone

from calls.models import Call, CallConnection, Participant, SimulatedCallee
from notifications import services as notifications
from recordings.models import Recording, RecordingChunk
from reminders import services as reminders
from reminders.models import Attempt, ImportJob, Suppression
from tenants import invitations, trunks
from tenants import services as tenants
from tenants.models import Membership, Tenant
from tests.factories import UserFactory, add_member, make_call_delivery, make_tenant
from tests.recordings.storage import temporary_recordings_storage
from webhooks.models import Delivery, EventSubscription

Role = Membership.Role


@contextmanager
def committed_world(django_db_blocker: Any, directory: Path) -> Iterator[tuple[Tenant, dict]]:
    """The tenant and its world, committed; at the end the tables are emptied as after a
    transactional test (the DELETE flush of tests/conftest.py), so the tests run after
    these on the worker see no rows."""
    with temporary_recordings_storage(directory):
        try:
            with (
                django_db_blocker.unblock(),
                override_settings(**TEST_SETTINGS),
                transaction.atomic(),
            ):
                owner = UserFactory(username="owner")
                tenant = make_tenant("acme", owner=owner)
                world = build(tenant, owner)
                world["sessions"] = log_in(world["members"])
                # As in a test's transaction, which is never committed: no callbacks.
                connection.run_on_commit.clear()
            yield tenant, world
        finally:
            with django_db_blocker.unblock():
                call_command("flush", interactive=False, verbosity=0)


def log_in(members: dict[str, Any]) -> dict[str, str]:
    """Each member's session key: a caller's client carries it (a login per caller and test
    before, ~5 per test); what a request does to its session row is rolled back with it."""
    sessions = {}
    for role, member in members.items():
        client = Client()
        client.force_login(member)
        sessions[role] = client.cookies[settings.SESSION_COOKIE_NAME].value
    return sessions


# What tests/conftest.py's function-scoped autouse `settings` overrides set.
TEST_SETTINGS = {
    "PASSWORD_HASHERS": ["django.contrib.auth.hashers.MD5PasswordHasher"],
    "DELIVERY_INLINE_RETRY_SECONDS": 0,
    "DELIVERY_LOOPS": 0,
}


def build(tenant: Tenant, owner: Any) -> dict[str, Any]:
    members = {Role.OWNER: owner}
    for role in (Role.ADMIN, Role.OPERATOR, Role.VIEWER):
        members[role] = add_member(tenant, role, username=f"{role}-member").user
    number = tenants.add_phone_number(tenant, "+14255550100", actor=None)
    spare = tenants.add_phone_number(tenant, "+14255550101", actor=None)  # no plan uses it
    call = Call.unscoped.create(tenant=tenant, direction=Call.Direction.OUTBOUND)
    connection_ = CallConnection.unscoped.create(
        tenant=tenant, call=call, callback_uri="https://acme.example.com/cb",
        state=CallConnection.State.CONNECTED, last_event_sequence=1,
    )  # fmt: skip
    softphone = SimulatedCallee.unscoped.create(
        tenant=tenant, raw_id="4:+14255550111", outcome="softphone"
    )
    leg = Participant.unscoped.create(
        tenant=tenant, call=call, kind="phoneNumber", raw_id=softphone.raw_id,
        role=Participant.Role.TARGET,
    )  # fmt: skip
    delivery = make_call_delivery(
        tenant, call, state=Delivery.State.DEAD, url=connection_.callback_uri
    )
    recording = Recording.unscoped.create(
        tenant=tenant, call=call, state=Recording.State.STOPPED, started_by="test"
    )
    chunk = RecordingChunk(
        tenant=tenant, recording=recording, content_type="audio/wav", duration=1.0
    )
    chunk.content.save("chunk.wav", ContentFile(WAV), save=False)
    chunk.save()
    plan = reminders.save_plan(
        tenant, actor=None, name="Clinic", offsets_minutes=[60], caller_id=number,
        office_number="+14255550199", weekdays=[0, 1, 2, 3, 4, 5, 6],
    )  # fmt: skip
    contact = reminders.save_contact(
        tenant, actor=None, name="Ann Lee", phone="+14255550123", time_zone="UTC"
    )
    appointment, _ = reminders.save_appointment(
        tenant, actor=None, external_id="A-1", contact=contact, plan=plan,
        starts_at=timezone.now() + timedelta(days=2),
    )  # fmt: skip
    attempt = Attempt.unscoped.create(
        tenant=tenant, appointment=appointment, reminder_index=0, attempt_number=1,
        due_at=timezone.now(),
    )  # fmt: skip
    suppression = Suppression.unscoped.create(tenant=tenant, phone="+14255550124")
    job = ImportJob.unscoped.create(tenant=tenant, plan=plan)
    invitation, _ = invitations.invite_member(tenant, "new@example.com", "viewer", actor=owner)
    subscription = EventSubscription.unscoped.create(
        tenant=tenant, endpoint_url="https://acme.example.com/hook"
    )
    viewer_membership = Membership.objects.for_tenant(tenant).get(user=members[Role.VIEWER])
    audience = notifications.save_audience(tenant, actor=None, name="Everyone", everyone=True)
    notification = notifications.save_notification(
        tenant, actor=None, name="Outage", audience=audience, message="Power is off.",
        caller_ids=[number],
    )  # fmt: skip
    trunk = trunks.save_trunk(tenant, actor=None, name="Carrier", proxy_host="127.0.0.1")
    return {
        "members": members,
        "chunk": chunk,
        # URL keywords.
        "tenant_slug": tenant.slug,
        "call_connection_id": connection_.call_connection_id,
        "server_call_id": call.server_call_id,
        "raw_id": leg.raw_id,
        "recording_id": recording.recording_id,
        "document_id": chunk.document_id,
        "rest": "noSuchOperation",
        "call_id": call.pk,
        "callee_id": softphone.pk,
        "leg_id": leg.leg_id,
        "op_id": "00000000-0000-4000-8000-000000000000",
        "plan_id": plan.pk,
        "appointment_id": appointment.pk,
        "job_id": job.pk,
        "trunk_id": trunk.pk,
        # The API's `{pk}`, by collection.
        "pk": {
            "deliveries": delivery.pk,
            "contacts": contact.pk,
            "appointments": appointment.pk,
            "plans": plan.pk,
            "attempts": attempt.pk,
            "suppressions": suppression.pk,
            "imports": job.pk,
            "audiences": audience.pk,
            "notifications": notification.pk,
            "test-callees": softphone.pk,
            "event-webhooks": subscription.pk,
            "trunks": trunk.pk,
        },
        "notification_id": notification.pk,
        "audience_id": audience.pk,
        # Form fields that make a portal POST a real change (so a refusal proves something).
        "posts": {
            "portal:access_keys": {"name": "primary"},
            "portal:phone_numbers": {"remove": spare.pk},
            "portal:members": {"remove": viewer_membership.pk, "revoke": invitation.pk},
            "portal:callees": {"remove": softphone.pk},
            "portal:edit_callee": {"raw_id": "+14255550188", "outcome": "busy"},
            "portal:webhooks": {"remove": subscription.pk},
            "portal:deliveries": {"redeliver": delivery.pk},
            "portal:call_detail": {"redeliver": delivery.pk},
            "portal:retention": {"recording_retention_days": "30"},
            "portal:recordings": {"recording": recording.recording_id, "hold": "on"},
            "portal:softphone": {"add": "1", "identity": "+14255550155"},
            "portal:softphone_leg": {"action": "hang_up"},
            "portal:reminder_appointment": {"cancel": "1"},
            "portal:trunks": {
                "name": "B",
                "proxy_host": "127.0.0.1",
                "proxy_port": "5060",
                "transport": "udp",
                "register_expires": "600",
                "codecs": "PCMU",
                "max_concurrent_calls": "5",
            },
            "portal:trunk": {"delete": "1"},
        },
    }


WAV = b"RIFF$\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00@\x1f\x00\x00\x80>\x00\x00\x02\x00\x10\x00data\x00\x00\x00\x00"  # noqa: E501
