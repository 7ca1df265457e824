import pytest

from reminders import services
from reminders.models import Appointment
from tenants import services as tenant_services
from tenants.models import PhoneNumber

pytestmark = pytest.mark.django_db(transaction=True)

CSV = (
    "external_id,name,phone,starts_at,time_zone\n"
    "A-1,Ann Lee,+14255550123,2026-12-01T14:30:00-05:00,America/New_York\n"
    "A-2,Bob Roe,not a number,2026-12-01T15:00:00-05:00,America/New_York\n"
    "A-3,Cy Doe,+14255550125,2026-12-02T09:00:00-05:00,America/New_York\n"
)


def test_a_csv_with_one_bad_row_imports_nothing_and_names_the_row(tenant, log_in, screenshot):
    tenant_services.add_phone_number(tenant, "+14255550100", actor=None)
    services.save_plan(
        tenant,
        actor=None,
        name="Clinic",
        offsets_minutes=[1440],
        caller_id=PhoneNumber.objects.for_tenant(tenant).get(),
    )
    page = log_in("owner")
    page.goto(f"/portal/t/{tenant.slug}/reminders/imports/")

    page.select_option("select[name=plan]", label="Clinic")
    page.set_input_files(
        "input[name=file]",
        files=[{"name": "appointments.csv", "mimeType": "text/csv", "buffer": CSV.encode()}],
    )
    page.get_by_role("button", name="Import").click()
    page.wait_for_selector("text=Row errors")

    errors = page.locator("table tbody tr")
    assert errors.count() == 1
    assert errors.first.locator("td").nth(1).inner_text() == "phone"
    # The problem quotes the bad value, so it can be found in the file.
    assert errors.first.locator("td").nth(2).inner_text() == (
        'row 3: phone "not a number" is not in E.164 form (it must start with +).'
    )
    assert "nothing was imported" in page.content()
    assert not Appointment.objects.for_tenant(tenant).exists()
    screenshot(page, "reminders-import")
