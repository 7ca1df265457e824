"""Issue 17, item 11: one appointment added, edited, called now and cancelled in the
portal (audited, role-checked); its prompt and a plan's played; the import page's sample
CSV imports cleanly and the only plan is preselected."""

import re
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from calls.models import Call
from reminders import csv_import
from reminders.models import Appointment, Attempt
from tenants.models import Membership
from tests.factories import UserFactory
from tests.reminders.conftest import acme, book, plan  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_sample_csv_downloads_and_the_only_plan_is_preselected(acme, plan, log_in):  # noqa: F811
    page = log_in("owner")
    page.goto("/portal/t/acme/reminders/imports/")

    expect(page.get_by_label("Plan")).to_have_value(str(plan.pk))
    with page.expect_download() as download:
        page.get_by_role("link", name="Download a sample CSV").click()
    sample = Path(download.value.path()).read_text(encoding="utf-8")

    assert sample.startswith("external_id,name,phone,starts_at")
    rows, errors = csv_import.parse(acme, sample)
    assert errors == []
    assert len(rows) == 1


# One of these zones is between 09:00 and 19:00 at any hour, inside the plan's calling hours.
ZONES = ["UTC", "Europe/Berlin", "Asia/Kolkata", "Asia/Tokyo", "Australia/Sydney",
         "Pacific/Honolulu", "America/Los_Angeles", "America/New_York"]  # fmt: skip


def holds(page: Page, expression: str, seconds: float = 10) -> None:
    """Wait until the page's `expression` is true (wait_for_function needs eval, which the
    portal's CSP refuses)."""
    for _ in range(int(seconds * 10)):
        if page.evaluate(expression):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"never true: {expression}")


def daytime_zone() -> ZoneInfo:
    now = timezone.now()
    return next(ZoneInfo(z) for z in ZONES if 9 <= now.astimezone(ZoneInfo(z)).hour < 19)


def test_one_appointment_is_added_edited_previewed_called_now_and_cancelled(
    acme,  # noqa: F811
    plan,  # noqa: F811
    log_in,
    screenshot,
):
    zone = daytime_zone()
    tomorrow = timezone.now().astimezone(zone).date() + timedelta(days=1)
    page = log_in("owner")
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto("/portal/t/acme/reminders/appointments/")
    page.get_by_role("link", name="Add an appointment").click()
    expect(page.get_by_label("Plan")).to_have_value(str(plan.pk))
    page.locator("#id_name").fill("Ann Lee")
    page.locator("#id_phone").fill("+1 425 555 0123")
    page.locator("#id_time_zone").fill(zone.key)
    page.locator("#id_starts_at").fill(f"{tomorrow.isoformat()}T10:00")
    page.locator("#id_provider").fill("Dr. Smith")
    page.get_by_role("button", name="Save").click()

    expect(page.locator(".flash")).to_contain_text("saved")
    appointment = Appointment.objects.for_tenant(acme).get()
    assert appointment.contact.phone == "+14255550123"
    assert appointment.starts_at == datetime.combine(tomorrow, time(10), tzinfo=zone)
    assert appointment.next_attempt_at is not None

    page.get_by_role("link", name="Edit").click()
    expect(page.locator("#id_external_id")).to_be_disabled()
    page.locator("#id_starts_at").fill(f"{tomorrow.isoformat()}T11:30")
    page.locator("#id_location").fill("Main Street clinic")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".prompt-text")).to_contain_text("11:30 AM")
    appointment.refresh_from_db()
    assert appointment.starts_at == datetime.combine(tomorrow, time(11, 30), tzinfo=zone)
    assert appointment.location == "Main Street clinic"

    page.get_by_role("button", name="▶ Play the prompt").click()
    player = page.locator("audio.preview")
    holds(page, "document.querySelector('audio.preview').duration > 1")  # loaded
    holds(page, "document.querySelector('audio.preview').currentTime > 0")  # playing
    assert player.count() == 1

    screenshot(page, "appointment")
    page.get_by_role("button", name="Call now").click()
    expect(page.locator(".flash")).to_have_text("Calling now.")
    attempt = Attempt.objects.for_tenant(acme).get(appointment=appointment)
    assert attempt.call_connection_id
    call = Call.objects.for_tenant(acme).get(server_call_id=attempt.server_call_id)
    page.locator("table tbody tr").first.get_by_role("link").click()
    expect(page).to_have_url(re.compile(rf"/calls/{call.pk}/$"))
    page.go_back()

    page.get_by_role("button", name="Cancel appointment").click()
    expect(page.locator(".flash")).to_contain_text("cancelled")
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CANCELLED
    actions = list(
        acme.audit_entries.filter(target_id=str(appointment.pk), action__startswith="appointment.")
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == [
        "appointment.create",
        "appointment.update",
        "appointment.call_now",
        "appointment.cancel",
    ]


def test_a_bad_number_is_refused_with_the_value_quoted(acme, plan, log_in):  # noqa: F811
    page = log_in("owner")
    page.goto("/portal/t/acme/reminders/appointments/new/")
    page.locator("#id_name").fill("Bob Roe")
    page.locator("#id_phone").fill("+1555")
    page.locator("#id_starts_at").fill("2030-01-02T10:00")
    page.get_by_role("button", name="Save").click()

    expect(page.locator(".errorlist")).to_contain_text("'+1555' is not a valid phone number.")
    assert not Appointment.objects.for_tenant(acme).exists()


def test_a_viewer_reads_an_appointment_but_cannot_call_or_change_it(acme, plan, log_in):  # noqa: F811
    found = book(acme, plan, starts_in=timedelta(days=2))
    Membership.unscoped.create(
        tenant=acme, user=UserFactory(username="viewer"), role=Membership.Role.VIEWER
    )
    page = log_in("viewer")
    page.goto(f"/portal/t/acme/reminders/appointments/{found.pk}/")

    expect(page.locator(".prompt-text")).to_contain_text("Hello")
    assert page.get_by_role("button", name="Call now").count() == 0
    assert page.get_by_role("link", name="Edit").count() == 0
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    response = page.request.post(
        f"/portal/t/acme/reminders/appointments/{found.pk}/",
        form={"call_now": "1"},
        headers={"X-CSRFToken": csrf},
    )
    assert response.status == 403


def test_the_plans_play_button_speaks_the_plan_prompt(acme, plan, log_in):  # noqa: F811
    page = log_in("owner")
    page.goto("/portal/t/acme/reminders/plans/")
    with page.expect_response(re.compile(r"/preview\.wav")) as answer:
        page.get_by_role("button", name="Play the prompt of Clinic").click()

    assert answer.value.status == 200
    assert answer.value.headers["content-type"] == "audio/wav"
    assert answer.value.body()[:4] == b"RIFF"
    holds(page, "document.querySelector('audio.preview').duration > 1")
