"""Issue 17, item 11 below the browser: "call now" as a service verb (its rules, the slot it
takes, the audit entry), the portal's add/edit form (zones, refusals), the spoken previews
(WAV, tenant-scoped) and import errors that quote the bad value."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from reminders import csv_import, dispatcher, services
from reminders.models import Appointment, Attempt
from tests.factories import make_tenant
from tests.reminders.conftest import PATIENT, book

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("clock")]


def test_call_now_makes_the_next_reminder_due_and_the_dispatcher_places_it(acme, plan):
    appointment = book(acme, plan, starts_in=timedelta(days=3))
    planned = appointment.next_attempt_at
    assert planned > timezone.now() + timedelta(days=1)

    services.call_now(acme, appointment.pk, actor=None)

    assert dispatcher.tick(acme) == 1
    attempt = Attempt.objects.for_tenant(acme).get()
    assert (attempt.reminder_index, attempt.attempt_number) == (0, 1)
    entry = acme.audit_entries.get(action="appointment.call_now")
    assert entry.before == {"next_attempt_at": planned.isoformat()}
    with pytest.raises(ValidationError, match="on now"):
        services.call_now(acme, appointment.pk, actor=None)


def test_call_now_after_every_reminder_passed_is_one_more_attempt_of_the_last(acme, plan):
    appointment = book(acme, plan, starts_in=timedelta(minutes=30))  # 24 h and 2 h passed
    Appointment.unscoped.filter(pk=appointment.pk).update(
        next_attempt_at=None, next_reminder_index=2
    )
    Attempt.unscoped.create(
        tenant=acme, appointment=appointment, reminder_index=1, attempt_number=1,
        due_at=timezone.now(), state=Attempt.State.ENDED, disposition="no-answer",
    )  # fmt: skip

    services.call_now(acme, appointment.pk, actor=None)

    appointment.refresh_from_db()
    assert (appointment.next_reminder_index, appointment.next_attempt_number) == (1, 2)
    assert dispatcher.tick(acme) == 1


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ({"status": Appointment.Status.CANCELLED}, "is cancelled"),
        ({"starts_at": "a minute ago"}, "already begun"),
    ],
)
def test_call_now_is_refused_for_an_appointment_not_ahead(acme, plan, change, refusal):
    appointment = book(acme, plan, starts_in=timedelta(days=1))
    if "starts_at" in change:  # the clock fixture's now, known only inside the test
        change = {"starts_at": timezone.now() - timedelta(minutes=1)}
    Appointment.unscoped.filter(pk=appointment.pk).update(**change)

    with pytest.raises(ValidationError, match=refusal):
        services.call_now(acme, appointment.pk, actor=None)
    assert not acme.audit_entries.filter(action="appointment.call_now").exists()


def test_the_form_reads_the_start_in_the_contacts_zone(client, acme, plan, member_client):
    member_client("operator")
    response = client.post(
        "/portal/t/acme/reminders/appointments/new/",
        {"external_id": "P-1", "name": "Ann Lee", "phone": PATIENT,
         "time_zone": "America/Chicago", "starts_at": "2026-03-05T09:30", "plan": plan.pk},
    )  # fmt: skip

    assert response.status_code == 302
    found = Appointment.objects.for_tenant(acme).get(external_id="P-1")
    assert found.starts_at.isoformat() == "2026-03-05T15:30:00+00:00"  # 09:30 CST
    assert found.contact.time_zone == "America/Chicago"
    again = client.post(
        "/portal/t/acme/reminders/appointments/new/",
        {"external_id": "P-1", "name": "Bob", "phone": "+14255550124",
         "starts_at": "2026-03-05T09:30", "plan": plan.pk},
    )  # fmt: skip
    assert again.status_code == 400
    assert "another appointment" in again.content.decode()


def test_a_viewer_cannot_add_edit_or_call_now(client, acme, plan, member_client):
    appointment = book(acme, plan, starts_in=timedelta(days=1))
    member_client("viewer")
    base = f"/portal/t/acme/reminders/appointments/{appointment.pk}/"

    assert client.post(base, {"call_now": "1"}).status_code == 403
    assert client.post(f"{base}edit/", {"name": "x"}).status_code == 403
    assert client.get(f"{base}edit/").status_code == 200  # reading is every member's


def test_previews_are_spoken_wav_of_the_tenants_own_plan(client, acme, plan, member_client):
    appointment = book(acme, plan, starts_in=timedelta(days=1))
    member_client("viewer")

    for url in (
        f"/portal/t/acme/reminders/plans/{plan.pk}/preview.wav",
        f"/portal/t/acme/reminders/appointments/{appointment.pk}/preview.wav",
    ):
        response = client.get(url)
        assert response.status_code == 200
        assert response["Content-Type"] == "audio/wav"
        assert response.content[:4] == b"RIFF"
        assert len(response.content) > 16000  # over half a second of 16 kHz speech
    make_tenant("globex")
    assert client.get(f"/portal/t/globex/reminders/plans/{plan.pk}/preview.wav").status_code == 404


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("phone", "+1555", 'phone "+1555" is not a valid phone number.'),
        ("time_zone", "Mars/Base", 'time_zone "Mars/Base" is not an IANA time zone'),
        ("starts_at", "tomorrow", 'starts_at "tomorrow" is not a date and time'),
        ("consent", "maybe", 'consent "maybe" is not yes or no.'),
        ("status", "done", 'status "done" is not one of scheduled'),
    ],
)
def test_import_errors_quote_the_bad_value(acme, column, value, message):
    row = {"external_id": "A-1", "name": "Ann", "phone": PATIENT, "starts_at": "2026-03-05 09:30"}
    row[column] = value
    content = ",".join(row) + "\n" + ",".join(row.values()) + "\n"

    _, errors = csv_import.parse(acme, content)

    assert [(e["row"], e["field"]) for e in errors] == [(2, column)]
    assert errors[0]["message"].startswith(message)


@pytest.mark.parametrize(("role", "offered"), [("viewer", False), ("operator", True)])
def test_the_add_link_is_offered_only_to_those_who_may_add(
    client, acme, role, offered, member_client
):
    member_client(role)
    page = client.get("/portal/t/acme/reminders/appointments/").content.decode()
    assert ("Add an appointment" in page) is offered
