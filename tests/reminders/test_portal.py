"""Portal pages: reminder plans (operator+ edits), appointments with their calls, the CSV
import with progress and row errors, the report."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from reminders.models import Attempt, ReminderPlan
from tests.reminders.conftest import CALLER, book
from tests.reminders.test_csv_import import BAD

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


def plan_form(**overrides) -> dict:
    form = {
        "name": "Dental",
        "offsets": "1440, 120",
        "window_start": "09:00",
        "window_end": "19:00",
        "weekdays": ["0", "1", "2", "3", "4"],
        "prompt_template": "Hi {name}, see you {when}.",
        "voice": "female",
        "language": "en-US",
        "max_attempts": "3",
        "office_number": "",
        "active": "on",
        "retry_no_answer_delay": "30",
        "retry_no_answer_max": "1",
        "retry_busy_delay": "5",
        "retry_busy_max": "2",
        "retry_failed_delay": "0",
        "retry_failed_max": "0",
        "retry_no_input_delay": "0",
        "retry_no_input_max": "0",
    }
    return {**form, **overrides}


def test_an_operator_creates_a_plan_with_its_retry_policy(client, acme, member_client):
    member_client("operator")
    number = acme.phone_numbers.get(e164=CALLER)

    response = client.post("/portal/t/acme/reminders/plans/new/", plan_form(caller_id=number.pk))

    assert response.status_code == 302
    plan = ReminderPlan.objects.for_tenant(acme).get()
    assert plan.offsets_minutes == [1440, 120]
    assert plan.retry_policy == {
        "no-answer": {"delay_minutes": 30, "max_retries": 1},
        "busy": {"delay_minutes": 5, "max_retries": 2},
    }


def test_a_plan_calling_after_nine_pm_is_refused_on_the_form(client, acme, member_client):
    member_client("operator")
    number = acme.phone_numbers.get(e164=CALLER)

    response = client.post(
        "/portal/t/acme/reminders/plans/new/",
        plan_form(caller_id=number.pk, window_start="21:30", window_end="22:00"),
    )

    assert response.status_code == 200
    assert "within 08:00-21:00" in response.content.decode()
    assert not ReminderPlan.objects.for_tenant(acme).exists()


def test_a_viewer_sees_plans_but_cannot_create_one(client, acme, plan, member_client):
    member_client("viewer")

    assert "Clinic" in client.get("/portal/t/acme/reminders/plans/").content.decode()
    assert client.post("/portal/t/acme/reminders/plans/new/", plan_form()).status_code == 403


def test_an_appointment_page_lists_its_calls_and_outcomes(client, acme, plan, member_client):
    member_client("viewer")
    appointment = book(acme, plan)
    Attempt.unscoped.create(
        tenant=acme,
        appointment=appointment,
        reminder_index=0,
        attempt_number=1,
        due_at=timezone.now(),
        state="ended",
        disposition="no-answer",
        events=[{"type": "CreateCallFailed"}],
    )

    page = client.get(f"/portal/t/acme/reminders/appointments/{appointment.pk}/").content.decode()

    assert "no-answer" in page
    assert "CreateCallFailed" in page
    assert "Tuesday, March 3, 2026 11:00" in page  # 16:00 UTC in New York


def test_another_tenants_appointment_is_404(client, acme, plan, other_tenant, member_client):
    appointment = book(acme, plan)
    client.force_login(other_tenant.memberships.get().user)

    assert (
        client.get(f"/portal/t/globex/reminders/appointments/{appointment.pk}/").status_code == 404
    )
    assert client.get("/portal/t/acme/reminders/appointments/").status_code == 404


def test_an_upload_with_bad_rows_shows_the_row_errors(
    client, acme, plan, member_client, django_capture_on_commit_callbacks
):
    member_client("operator")
    file = SimpleUploadedFile("list.csv", BAD.encode(), content_type="text/csv")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/portal/t/acme/reminders/imports/", {"plan": plan.pk, "file": file})
    page = client.get(response["Location"]).content.decode()

    assert "nothing was imported" in page
    assert "Moon/Base" in page
    assert "<progress" in page


def test_the_report_gives_confirm_cancel_and_no_answer_rates(client, acme, plan, member_client):
    member_client("viewer")
    appointment = book(acme, plan)
    for number, disposition in enumerate(["confirmed", "no-answer", "no-answer", "cancelled"]):
        Attempt.unscoped.create(
            tenant=acme,
            appointment=appointment,
            reminder_index=0,
            attempt_number=number + 1,
            due_at=timezone.now(),
            state="ended",
            disposition=disposition,
            ended_at=timezone.now(),
        )

    page = client.get("/portal/t/acme/reminders/report/").content.decode()

    assert "1 (25%)" in page
    assert "2 (50%)" in page
