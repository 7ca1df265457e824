"""The reminders routes of the tenant REST API: happy paths, 400s with field errors in
the ACS shape, another tenant's ids answering 404, portal sessions and roles, OpenAPI."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from reminders import services
from reminders.models import Appointment, Attempt, Contact, ImportJob, Suppression
from tenants.models import AuditEntry, Membership, PhoneNumber
from tests.acs_signing import sign_headers
from tests.calls.api_support import assert_error
from tests.conftest import key_of
from tests.factories import UserFactory
from tests.reminders.conftest import CALLER, book
from webhooks import signing

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


def api(client, tenant, method: str, path: str, body: object = None):
    """An HMAC-signed JSON request to /t/<slug>/api/v1/<path> with the tenant's key."""
    target = f"/t/{tenant.slug}/api/v1/{path}"
    raw = json.dumps(body).encode() if body is not None else b""
    headers = sign_headers(method, target, raw, key_of(tenant), f"testserver/t/{tenant.slug}")
    return client.generic(
        method,
        target,
        data=raw,
        content_type="application/json" if raw else None,
        headers=headers,
        RAW_URI=target,
    )


def targets(error: dict) -> set[str]:
    return {detail.get("target", "") for detail in error.get("details", [])}


def iso(delta: timedelta) -> str:
    return (timezone.now() + delta).isoformat()


# --- contacts ---


def test_a_contact_is_created_with_its_zone_from_the_number(client, acme):
    response = api(client, acme, "POST", "contacts", {"name": "Bo", "phone": "+49 30 901820"})

    assert response.status_code == 201, response.content
    assert response.json()["phone"] == "+4930901820"
    assert response.json()["timeZone"] == "Europe/Berlin"


def test_a_contact_with_a_bad_phone_and_zone_is_refused_with_field_errors(client, acme):
    response = api(
        client, acme, "POST", "contacts", {"name": "Bo", "phone": "12", "timeZone": "Mars/Base"}
    )

    error = assert_error(response, 400, "BadRequest")
    assert targets(error) == {"phone", "timeZone"}
    assert not Contact.objects.for_tenant(acme).exists()


def test_a_second_contact_with_the_same_number_is_refused(client, acme):
    api(client, acme, "POST", "contacts", {"name": "Bo", "phone": "+14255550123"})

    response = api(client, acme, "POST", "contacts", {"name": "Al", "phone": "+14255550123"})

    assert targets(assert_error(response, 400)) == {"phone"}


def test_deleting_a_contact_removes_their_appointments_and_is_audited(client, acme, plan):
    appointment = book(acme, plan)

    response = api(client, acme, "DELETE", f"contacts/{appointment.contact_id}")

    assert response.status_code == 204
    assert not Appointment.objects.for_tenant(acme).exists()
    assert AuditEntry.objects.for_tenant(acme).filter(action="contact.delete").exists()


# --- plans ---


def test_a_plan_is_created_with_the_default_retry_policy(client, acme):
    response = api(
        client,
        acme,
        "POST",
        "plans",
        {"name": "Dental", "callerId": CALLER, "offsetsMinutes": [1440, 120]},
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["retryPolicy"]["no-answer"] == {"delay_minutes": 60, "max_retries": 2}
    assert (body["windowStart"], body["windowEnd"]) == ("09:00:00", "20:00:00")


def test_a_plan_with_a_foreign_caller_id_and_bad_window_is_refused(client, acme, other_tenant):
    PhoneNumber.unscoped.create(tenant=other_tenant, e164="+14255550177")

    response = api(
        client,
        acme,
        "POST",
        "plans",
        {
            "name": "Dental",
            "callerId": "+14255550177",
            "offsetsMinutes": [0],
            "windowStart": "22:00",
            "windowEnd": "23:00",
        },
    )

    assert {"callerId", "offsetsMinutes"} <= targets(assert_error(response, 400))


def test_a_plan_whose_window_is_outside_eight_to_nine_is_refused(client, acme):
    response = api(
        client,
        acme,
        "POST",
        "plans",
        {
            "name": "Night",
            "callerId": CALLER,
            "windowStart": "21:30",
            "windowEnd": "23:00",
        },
    )

    assert targets(assert_error(response, 400)) == {"windowEnd"}


def test_a_plan_with_a_bad_retry_policy_is_refused(client, acme):
    response = api(
        client,
        acme,
        "POST",
        "plans",
        {
            "name": "R",
            "callerId": CALLER,
            "retryPolicy": {"sunshine": {"delay_minutes": 1}},
        },
    )

    assert targets(assert_error(response, 400)) == {"retryPolicy"}


def test_a_plan_in_use_cannot_be_deleted(client, acme, plan):
    book(acme, plan)

    assert_error(api(client, acme, "DELETE", f"plans/{plan.pk}"), 409)


# --- appointments ---


def test_an_appointment_is_upserted_by_external_id(client, acme, plan):
    contact = services.save_contact(acme, actor=None, name="Ann", phone="+14255550123")
    body = {
        "externalId": "X-1",
        "contact": contact.pk,
        "plan": plan.pk,
        "startsAt": iso(timedelta(days=3)),
        "provider": "Dr. Who",
    }

    created = api(client, acme, "POST", "appointments", body)
    updated = api(client, acme, "POST", "appointments", {**body, "provider": "Dr. No"})

    assert (created.status_code, updated.status_code) == (201, 200)
    appointment = Appointment.objects.for_tenant(acme).get()
    assert appointment.provider == "Dr. No"
    assert updated.json()["nextAttemptAt"] is not None


def test_an_appointment_with_another_tenants_contact_is_refused(client, acme, plan, other_tenant):
    theirs = services.save_contact(other_tenant, actor=None, name="Zed", phone="+14255550188")

    response = api(
        client,
        acme,
        "POST",
        "appointments",
        {
            "externalId": "X-1",
            "contact": theirs.pk,
            "plan": plan.pk,
            "startsAt": "tomorrow",
        },
    )

    assert targets(assert_error(response, 400)) == {"contact", "startsAt"}


def test_bulk_upsert_creates_contacts_and_appointments(client, acme, plan):
    items = [
        {
            "externalId": f"B-{n}",
            "plan": plan.pk,
            "startsAt": iso(timedelta(days=2)),
            "contact": {"name": f"P{n}", "phone": f"+1425555010{n}", "timeZone": "America/Denver"},
        }
        for n in range(1, 4)
    ]

    response = api(client, acme, "POST", "appointments/bulk", {"appointments": items})
    again = api(client, acme, "POST", "appointments/bulk", {"appointments": items})

    assert (response.status_code, again.status_code) == (200, 200), response.content
    assert Appointment.objects.for_tenant(acme).count() == 3
    assert set(Contact.objects.for_tenant(acme).values_list("time_zone", flat=True)) == {
        "America/Denver"
    }


def test_bulk_upsert_with_one_bad_item_saves_nothing_and_names_the_item(client, acme, plan):
    items = [
        {
            "externalId": "B-1",
            "plan": plan.pk,
            "startsAt": iso(timedelta(days=2)),
            "contact": {"name": "P", "phone": "+14255550101"},
        },
        {
            "externalId": "B-2",
            "plan": plan.pk,
            "startsAt": "soon",
            "contact": {"name": "Q", "phone": "+14255550102"},
        },
    ]

    response = api(client, acme, "POST", "appointments/bulk", {"appointments": items})

    assert "appointments.1.startsAt" in targets(assert_error(response, 400))
    assert not Appointment.objects.for_tenant(acme).exists()


def test_cancelling_an_appointment_stops_its_reminders(client, acme, plan):
    appointment = book(acme, plan)

    response = api(client, acme, "POST", f"appointments/{appointment.pk}/cancel")

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert response.json()["nextAttemptAt"] is None


def test_an_appointment_shows_its_attempts(client, acme, plan):
    appointment = book(acme, plan)
    Attempt.unscoped.create(
        tenant=acme,
        appointment=appointment,
        reminder_index=0,
        attempt_number=1,
        due_at=timezone.now(),
        state="ended",
        disposition="busy",
    )

    response = api(client, acme, "GET", f"appointments/{appointment.pk}")

    assert [a["disposition"] for a in response.json()["attempts"]] == ["busy"]


# --- attempts ---


def test_attempts_are_filtered_by_disposition(client, acme, plan):
    appointment = book(acme, plan)
    for number, disposition in ((1, "busy"), (2, "confirmed")):
        Attempt.unscoped.create(
            tenant=acme,
            appointment=appointment,
            reminder_index=0,
            attempt_number=number,
            due_at=timezone.now(),
            state="ended",
            disposition=disposition,
        )

    response = api(client, acme, "GET", "attempts?disposition=confirmed")

    assert response.status_code == 200
    assert [a["attemptNumber"] for a in response.json()["results"]] == [2]


def test_an_unknown_disposition_filter_is_a_400(client, acme):
    response = api(client, acme, "GET", "attempts?disposition=sunny&dialedAfter=yesterday")

    assert targets(assert_error(response, 400)) == {"disposition", "dialedAfter"}


# --- suppressions ---


def test_a_number_is_put_on_and_taken_off_the_do_not_call_list(client, acme, plan):
    appointment = book(acme, plan)

    added = api(client, acme, "POST", "suppressions", {"phone": appointment.contact.phone})
    appointment.refresh_from_db()
    assert added.status_code == 201
    assert appointment.next_attempt_at is None

    removed = api(client, acme, "DELETE", f"suppressions/{added.json()['id']}")
    appointment.refresh_from_db()
    assert removed.status_code == 204
    assert appointment.next_attempt_at is not None


def test_a_bad_suppression_is_refused(client, acme):
    response = api(client, acme, "POST", "suppressions", {"phone": "call me", "reason": "x"})

    assert targets(assert_error(response, 400)) == {"phone", "reason"}


# --- on-demand dispatch, schema, docs ---


def test_dispatch_on_demand_runs_the_dispatcher_once(client, acme, plan, monkeypatch):
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)
    book(acme, plan)

    response = api(client, acme, "POST", "reminders/dispatch")

    assert response.status_code == 202
    assert Attempt.objects.for_tenant(acme).count() == 1


def test_the_openapi_schema_describes_the_reminder_routes(client, acme):
    response = api(client, acme, "GET", "schema?format=json")

    assert response.status_code == 200
    paths = json.loads(response.content)["paths"]
    assert "/t/{tenant_slug}/api/v1/appointments/bulk" in paths


def test_the_docs_page_loads_no_script_from_another_site(client, acme, member_client):
    member_client(Membership.Role.VIEWER)

    response = client.get("/t/acme/api/v1/docs")

    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/redoc" in html
    assert "https://" not in html


# --- portal sessions ---


def test_a_viewer_session_reads_but_cannot_write(client, acme, member_client):
    member_client(Membership.Role.VIEWER)

    assert client.get("/t/acme/api/v1/contacts").status_code == 200
    response = client.post(
        "/t/acme/api/v1/contacts",
        {"name": "A", "phone": "+14255550123"},
        content_type="application/json",
    )
    assert_error(response, 403)


def test_an_operator_session_writes_with_a_csrf_token(acme, member_client, client):
    membership = member_client(Membership.Role.OPERATOR)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(membership.user)
    body = {"name": "A", "phone": "+14255550123"}

    refused = strict.post("/t/acme/api/v1/contacts", body, content_type="application/json")
    strict.get("/portal/t/acme/")  # a page with a form sets the CSRF cookie
    token = strict.cookies["csrftoken"].value
    accepted = strict.post(
        "/t/acme/api/v1/contacts",
        body,
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )

    assert refused.status_code == 403
    assert accepted.status_code == 201, accepted.content


def test_a_session_of_another_tenants_member_gets_404(client, acme, other_tenant):
    outsider = UserFactory(username="outsider")
    Membership.unscoped.create(tenant=other_tenant, user=outsider, role="owner")
    client.force_login(outsider)

    assert_error(client.get("/t/acme/api/v1/contacts"), 404)


# --- the callback endpoint ---


def callback(client, tenant, token: str, bearer: str, body: object = None):
    return client.post(
        f"/t/{tenant.slug}/api/v1/reminders/callbacks/{token}",
        body if body is not None else [],
        content_type="application/json",
        headers={"Authorization": f"Bearer {bearer}"},
    )


def test_a_callback_without_a_valid_platform_token_is_refused(client, acme):
    assert_error(callback(client, acme, "whatever", "not-a-jwt"), 401)


def test_a_callback_token_for_another_tenant_is_refused(client, acme, other_tenant):
    assert_error(callback(client, acme, "whatever", signing.bearer_token(other_tenant)), 401)


def test_a_signed_callback_for_an_unknown_attempt_is_404(client, acme):
    assert_error(callback(client, acme, "nope", signing.bearer_token(acme)), 404)


def test_a_signed_callback_with_a_bad_body_is_400(client, acme):
    assert_error(callback(client, acme, "nope", signing.bearer_token(acme), [1, 2]), 400)


# --- another tenant's ids ---


ROUTES = [
    ("GET", "contacts/{contact}"),
    ("PATCH", "contacts/{contact}"),
    ("DELETE", "contacts/{contact}"),
    ("GET", "plans/{plan}"),
    ("PATCH", "plans/{plan}"),
    ("DELETE", "plans/{plan}"),
    ("GET", "appointments/{appointment}"),
    ("PATCH", "appointments/{appointment}"),
    ("POST", "appointments/{appointment}/cancel"),
    ("GET", "attempts/{attempt}"),
    ("GET", "suppressions/{suppression}"),
    ("DELETE", "suppressions/{suppression}"),
    ("GET", "imports/{job}"),
]


@pytest.mark.parametrize(("method", "route"), ROUTES)
def test_another_tenants_ids_answer_404(client, acme, plan, other_tenant, method, route):
    appointment = book(acme, plan)
    ids = {
        "contact": appointment.contact_id,
        "plan": plan.pk,
        "appointment": appointment.pk,
        "attempt": Attempt.unscoped.create(
            tenant=acme,
            appointment=appointment,
            reminder_index=0,
            attempt_number=1,
            due_at=timezone.now(),
        ).pk,
        "suppression": Suppression.unscoped.create(tenant=acme, phone="+14255550111").pk,
        "job": ImportJob.unscoped.create(tenant=acme, plan=plan).pk,
    }

    response = api(
        client,
        other_tenant,
        method,
        route.format(**ids),
        {} if method in ("PATCH", "POST") else None,
    )

    assert_error(response, 404)
    assert Appointment.objects.for_tenant(acme).get().status == "scheduled"


def test_a_redelivered_event_is_kept_and_acted_on_once(client, acme, plan):
    appointment = book(acme, plan)
    attempt = Attempt.unscoped.create(
        tenant=acme,
        appointment=appointment,
        reminder_index=appointment.next_reminder_index,
        attempt_number=1,
        due_at=timezone.now(),
    )
    event = {
        "id": "e-1",
        "type": "Microsoft.Communication.CreateCallFailed",
        "sequence": "1",
        "data": {"resultInformation": {"code": 486, "subCode": 0, "sipDetails": {"code": 486}}},
    }
    token = signing.bearer_token(acme)

    first = callback(client, acme, attempt.callback_token, token, [event])
    again = callback(client, acme, attempt.callback_token, token, [event])

    assert (first.status_code, again.status_code) == (204, 204)
    attempt.refresh_from_db()
    assert [e["id"] for e in attempt.events] == ["e-1"]
    assert attempt.disposition == "busy"
    appointment.refresh_from_db()
    assert appointment.next_attempt_number == 2
