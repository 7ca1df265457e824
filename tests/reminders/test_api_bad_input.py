"""Requests that collide with a unique rule or go past a filter's range answer a 400 in the ACS
shape naming the field, never a 500 (issue 12, defect 7)."""

from datetime import UTC, timedelta, timezone
from urllib.parse import quote

import pytest

from reminders import services
from reminders.models import Appointment, Contact, ReminderPlan
from tenants import services as tenant_services
from tenants.models import PhoneNumber
from tests.calls.api_support import assert_error
from tests.reminders.conftest import CALLER
from tests.reminders.test_api import api, targets

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


def plan_body(name: str) -> dict:
    return {"name": name, "callerId": CALLER, "offsetsMinutes": [120]}


def test_a_second_plan_with_the_same_name_is_refused_on_the_name(client, acme, plan):
    response = api(client, acme, "POST", "plans", plan_body(plan.name))

    error = assert_error(response, 400, "BadRequest", mentions="name")
    assert targets(error) == {"name"}
    assert ReminderPlan.objects.for_tenant(acme).count() == 1


def test_renaming_a_plan_to_another_plans_name_is_refused_on_the_name(client, acme, plan):
    other = api(client, acme, "POST", "plans", plan_body("Dental")).json()

    response = api(client, acme, "PUT", f"plans/{other['id']}", plan_body(plan.name))

    assert targets(assert_error(response, 400, "BadRequest")) == {"name"}
    assert ReminderPlan.objects.for_tenant(acme).get(pk=other["id"]).name == "Dental"


def test_another_tenant_may_use_the_same_plan_name(client, acme, plan, other_tenant):
    tenant_services.add_phone_number(other_tenant, "+14255550177", actor=None)
    number = PhoneNumber.objects.for_tenant(other_tenant).get()

    theirs = services.save_plan(other_tenant, actor=None, name=plan.name, caller_id=number)

    assert theirs.name == plan.name
    assert services.save_plan(acme, actor=None, plan=plan, name=plan.name) == plan  # unchanged


def test_a_second_contact_with_the_same_external_id_is_refused_on_the_field(client, acme):
    first = {"name": "Bo", "phone": "+14255550123", "externalId": "P-1"}
    assert api(client, acme, "POST", "contacts", first).status_code == 201

    response = api(
        client,
        acme,
        "POST",
        "contacts",
        {"name": "Al", "phone": "+14255550124", "externalId": "P-1"},
    )

    error = assert_error(response, 400, "BadRequest", mentions="externalId")
    assert targets(error) == {"externalId"}
    assert Contact.objects.for_tenant(acme).count() == 1


def test_patching_a_contact_to_another_contacts_external_id_is_refused(client, acme):
    api(
        client,
        acme,
        "POST",
        "contacts",
        {"name": "Bo", "phone": "+14255550123", "externalId": "P-1"},
    )
    al = api(client, acme, "POST", "contacts", {"name": "Al", "phone": "+14255550124"}).json()

    response = api(client, acme, "PATCH", f"contacts/{al['id']}", {"externalId": "P-1"})

    assert targets(assert_error(response, 400, "BadRequest")) == {"externalId"}
    assert Contact.objects.for_tenant(acme).get(pk=al["id"]).external_id == ""


def test_contacts_without_an_external_id_do_not_collide(client, acme):
    for phone in ("+14255550123", "+14255550124"):
        response = api(client, acme, "POST", "contacts", {"name": "X", "phone": phone})
        assert response.status_code == 201, response.content


@pytest.mark.parametrize(
    "query",
    [
        "appointments?contact=-3.9e48",
        "appointments?plan=1e400",
        "appointments?contact=99999999999999999999",
        "appointments?contact=1.5",
        "attempts?appointment=-3.9e48",
        "attempts?reminderIndex=1e30",
    ],
)
def test_a_number_filter_out_of_range_is_a_400_naming_the_filter(client, acme, query):
    response = api(client, acme, "GET", query)

    name = query.split("?")[1].split("=")[0]
    assert targets(assert_error(response, 400, "BadRequest")) == {name}


def test_a_number_filter_in_range_still_filters(client, acme, plan):
    from tests.reminders.conftest import book

    appointment = book(acme, plan)

    response = api(client, acme, "GET", f"appointments?contact={appointment.contact_id}")

    assert [row["id"] for row in response.json()["results"]] == [appointment.pk]
    assert Appointment.objects.for_tenant(acme).count() == 1


@pytest.mark.parametrize(
    "query",
    [
        "attempts?dialedAfter=9999-12-31T23:59:59-23:00",
        "attempts?dialedBefore=0001-01-01T00:00:00%2B01:00",
        "appointments?startsBefore=9999-12-31T23:00:00-02:00",
    ],
)
def test_a_time_filter_that_utc_cannot_hold_is_a_400_naming_the_filter(client, acme, query):
    response = api(client, acme, "GET", query)

    name = query.split("?")[1].split("=")[0]
    assert targets(assert_error(response, 400, "BadRequest", mentions="out of range")) == {name}


def test_a_time_filter_with_an_offset_postgresql_refuses_is_applied_in_utc(client, acme, plan):
    from tests.reminders.conftest import book

    appointment = book(acme, plan)
    # +23:30 is a valid ISO 8601 offset; PostgreSQL takes at most ±15:59.
    after = appointment.starts_at.astimezone(UTC).replace(microsecond=0) - timedelta(hours=1)
    local = after.astimezone(timezone(timedelta(hours=23, minutes=30))).isoformat()

    response = api(client, acme, "GET", f"appointments?startsAfter={quote(local)}")

    assert response.status_code == 200, response.content
    assert [row["id"] for row in response.json()["results"]] == [appointment.pk]


def test_the_portal_refuses_a_second_plan_with_the_same_name_on_the_form(
    client, acme, plan, member_client
):
    from tests.reminders.test_portal import plan_form

    member_client("operator")
    number = acme.phone_numbers.get(e164=CALLER)

    response = client.post(
        "/portal/t/acme/reminders/plans/new/", plan_form(name=plan.name, caller_id=number.pk)
    )

    assert response.status_code == 200
    assert "A plan with this name exists." in response.content.decode()
    assert ReminderPlan.objects.for_tenant(acme).count() == 1
