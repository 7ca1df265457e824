"""The notifications routes of the tenant REST API: happy paths (HMAC-signed, as an
access key's client would call them), 400s with field errors in the ACS shape, 409 for a
verb the status forbids, and another tenant's ids answering 404 on every route."""

import json

import pytest
from django.test import Client

from notifications import services
from notifications.models import Notification, Recipient
from reminders.models import Contact
from tenants.models import PhoneNumber
from tests.acs_signing import sign_headers
from tests.conftest import key_of
from tests.notifications.conftest import CALLERS, household

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]


def api(tenant, method: str, path: str, body: object = None, client: Client | None = None):
    """An HMAC-signed JSON request to /t/<slug>/api/v1/<path> with the tenant's key."""
    client = client or Client()
    target = f"/t/{tenant.slug}/api/v1/{path}"
    raw = json.dumps(body).encode() if body is not None else b""
    headers = sign_headers(method, target, raw, key_of(tenant), f"testserver/t/{tenant.slug}")
    return client.generic(
        method, target, data=raw, content_type="application/json" if raw else None,
        headers=headers, RAW_URI=target,
    )  # fmt: skip


def targets(response) -> set[str]:
    return {d.get("target", "") for d in response.json()["error"].get("details", [])}


def draft(acme, audience, **fields) -> Notification:
    return services.save_notification(
        acme,
        actor=None,
        name=fields.pop("name", "Outage"),
        audience=audience,
        message="Power off in {area}.",
        caller_ids=list(PhoneNumber.objects.for_tenant(acme)),
        **fields,
    )


# --- contacts carry tags and an area ---


def test_a_contact_is_created_with_tags_and_an_area(acme):
    response = api(
        acme, "POST", "contacts",
        {"name": "Bo", "phone": "+14255560009", "tags": ["School", "elderly"], "area": "Z-4"},
    )  # fmt: skip

    assert response.status_code == 201, response.content
    assert (response.json()["tags"], response.json()["area"]) == (["elderly", "school"], "Z-4")
    assert Contact.objects.for_tenant(acme).get().tags == ",elderly,school,"


# --- audiences ---


def test_an_audience_is_created_and_counted(acme):
    household(acme, 1, area="zone-4")
    household(acme, 2, area="zone-5", tags="school")

    created = api(
        acme, "POST", "audiences", {"name": "Z4", "areas": ["zone-4"], "tags": ["school"]}
    )
    count = api(acme, "GET", f"audiences/{created.json()['id']}/count")

    assert created.status_code == 201, created.content
    assert count.status_code == 200
    assert (count.json()["matching"], count.json()["reachable"]) == (2, 2)
    assert [r["name"] for r in count.json()["firstRows"]] == ["Household 1", "Household 2"]


def test_an_audience_is_listed_read_changed_and_deleted(acme, audience):
    assert api(acme, "GET", "audiences").json()["results"][0]["name"] == "Zone 4"
    assert api(acme, "GET", f"audiences/{audience.pk}").json()["areas"] == ["zone-4"]
    assert api(acme, "PATCH", f"audiences/{audience.pk}", {"name": "Z"}).json()["name"] == "Z"
    assert api(acme, "PUT", f"audiences/{audience.pk}", {"name": "Y"}).status_code == 200
    assert api(acme, "DELETE", f"audiences/{audience.pk}").status_code == 204


def test_an_audience_in_use_cannot_be_deleted(acme, audience):
    draft(acme, audience)

    response = api(acme, "DELETE", f"audiences/{audience.pk}")

    assert response.status_code == 409


def test_a_csv_is_uploaded_into_an_audience(acme, audience):
    csv = "name,phone,area,tags\nAnn,+14255560001,zone-9,school\n"

    response = api(acme, "POST", f"audiences/{audience.pk}/upload", {"csv": csv})

    assert response.status_code == 200, response.content
    assert response.json()["matching"] == 1


def test_a_bad_csv_upload_is_refused_with_the_row(acme, audience):
    response = api(acme, "POST", f"audiences/{audience.pk}/upload", {"csv": "name,phone\nA,x\n"})

    assert response.status_code == 400
    assert "row 2" in response.content.decode()


def test_a_bad_audience_is_refused_with_field_errors(acme, audience, other_tenant):
    theirs = Contact.unscoped.create(
        tenant=other_tenant, name="Zed", phone="+14255560077", time_zone="UTC"
    )

    response = api(
        acme, "POST", "audiences", {"name": "Zone 4", "tags": "x", "members": [theirs.pk]}
    )

    assert response.status_code == 400
    assert {"tags", "members"} <= targets(response)
    taken = api(acme, "POST", "audiences", {"name": "Zone 4"})
    assert "name" in targets(taken)


# --- notifications ---


def test_a_notification_is_created_previewed_launched_and_tracked(acme, audience):
    household(acme, 1)
    household(acme, 2, area="zone-5")
    body = {
        "name": "Planned outage",
        "audience": audience.pk,
        "message": "Hello {name}, power will be off in {area} from 2 to 6 pm.",
        "callerIds": CALLERS,
        "lifeSafety": False,
        "maxRounds": 2,
    }

    created = api(acme, "POST", "notifications", body)
    pk = created.json()["id"]
    preview = api(acme, "GET", f"notifications/{pk}/preview")
    launched = api(acme, "POST", f"notifications/{pk}/launch")
    progress = api(acme, "GET", f"notifications/{pk}/progress")
    results = api(acme, "GET", f"notifications/{pk}/results?state=waiting&area=zone-4")

    assert created.status_code == 201, created.content
    assert created.json()["status"] == "draft"
    assert preview.status_code == 200
    assert preview.json()["audienceSize"] == 1
    assert preview.json()["firstRows"][0]["prompt"].startswith(
        "Hello Household 1, power will be off in zone-4"
    )
    assert preview.json()["etaSeconds"] >= 0
    assert launched.status_code == 200, launched.content
    assert launched.json()["status"] == "running"
    assert (progress.json()["total"], progress.json()["remaining"]) == (1, 1)
    assert progress.json()["zones"][0]["area"] == "zone-4"
    assert results.json()["count"] == 1
    assert results.json()["results"][0]["phone"] == "+14255560001"


def test_a_notification_is_listed_read_and_changed_while_a_draft(acme, audience):
    notification = draft(acme, audience)

    listed = api(acme, "GET", "notifications?status=draft")
    read = api(acme, "GET", f"notifications/{notification.pk}")
    patched = api(acme, "PATCH", f"notifications/{notification.pk}", {"maxReplays": 3})
    put = api(
        acme, "PUT", f"notifications/{notification.pk}",
        {"name": "Outage 2", "audience": audience.pk, "message": "Off.", "callerIds": CALLERS},
    )  # fmt: skip

    assert listed.json()["count"] == 1
    assert read.json()["callerIds"] == CALLERS
    assert patched.json()["maxReplays"] == 3
    assert put.status_code == 200, put.content
    assert put.json()["name"] == "Outage 2"


def test_pause_resume_and_cancel_over_the_api(acme, audience):
    household(acme, 1)
    notification = draft(acme, audience)
    path = f"notifications/{notification.pk}"
    api(acme, "POST", f"{path}/launch")

    assert api(acme, "POST", f"{path}/pause").json()["status"] == "paused"
    assert api(acme, "POST", f"{path}/resume").json()["status"] == "running"
    cancelled = api(acme, "POST", f"{path}/cancel", {"hangUp": True})
    assert cancelled.json()["status"] == "cancelled"
    assert Recipient.objects.for_tenant(acme).get().disposition == "cancelled"


def test_a_bad_notification_is_refused_with_field_errors(acme, audience, other_tenant):
    PhoneNumber.unscoped.create(tenant=other_tenant, e164="+14255550177")

    response = api(
        acme,
        "POST",
        "notifications",
        {
            "name": "X",
            "audience": audience.pk,
            "message": "Hello {nobody}",
            "callerIds": ["+14255550177"],
            "ackKey": "x",
            "maxRounds": 0,
        },
    )

    assert response.status_code == 400
    assert {"callerIds", "ackKey", "maxRounds"} <= targets(response)
    clash = api(
        acme, "POST", "notifications",
        {"name": "Y", "audience": audience.pk, "message": "Hi {nobody}", "callerIds": CALLERS,
         "ackKey": "2", "replayKey": "2"},
    )  # fmt: skip
    assert clash.status_code == 400
    assert {"message", "ackKey"} <= targets(clash)


def test_an_unsafe_events_url_is_refused(acme, audience):
    response = api(
        acme, "POST", "notifications",
        {"name": "Y", "audience": audience.pk, "message": "Hi", "callerIds": CALLERS,
         "eventsUrl": "http://169.254.169.254/latest"},
    )  # fmt: skip

    assert response.status_code == 400
    assert "eventsUrl" in targets(response)


def test_verbs_the_status_forbids_answer_409(acme, audience):
    notification = draft(acme, audience)
    path = f"notifications/{notification.pk}"

    assert api(acme, "POST", f"{path}/pause").status_code == 409
    assert api(acme, "POST", f"{path}/launch").status_code == 400  # the audience is empty
    household(acme, 1)
    assert api(acme, "POST", f"{path}/launch").status_code == 200
    assert api(acme, "POST", f"{path}/launch").status_code == 409
    assert api(acme, "PATCH", path, {"name": "Z"}).status_code == 409


def test_bad_filters_and_bodies_answer_400(acme, audience):
    notification = draft(acme, audience)
    path = f"notifications/{notification.pk}"

    assert api(acme, "GET", f"{path}/results?disposition=nope").status_code == 400
    assert api(acme, "GET", f"{path}/results?round=1.5").status_code == 400
    assert api(acme, "POST", f"{path}/cancel", {"hangUp": "maybe"}).status_code == 400
    assert api(acme, "GET", "notifications?status=nope").status_code == 400


DETAIL_ROUTES = [
    ("GET", "audiences/{a}"),
    ("PUT", "audiences/{a}"),
    ("PATCH", "audiences/{a}"),
    ("DELETE", "audiences/{a}"),
    ("GET", "audiences/{a}/count"),
    ("POST", "audiences/{a}/upload"),
    ("GET", "notifications/{n}"),
    ("PUT", "notifications/{n}"),
    ("PATCH", "notifications/{n}"),
    ("GET", "notifications/{n}/preview"),
    ("POST", "notifications/{n}/launch"),
    ("POST", "notifications/{n}/pause"),
    ("POST", "notifications/{n}/resume"),
    ("POST", "notifications/{n}/cancel"),
    ("GET", "notifications/{n}/progress"),
    ("GET", "notifications/{n}/results"),
    ("POST", "notifications/{n}/audio"),
    ("DELETE", "notifications/{n}/audio"),
]


@pytest.mark.parametrize(("method", "path"), DETAIL_ROUTES)
def test_another_tenants_ids_answer_404(acme, other_tenant, method, path):
    from tenants import services as tenant_services

    number = tenant_services.add_phone_number(other_tenant, "+14255550188", actor=None)
    theirs = services.save_audience(other_tenant, actor=None, name="Theirs", everyone=True)
    notification = services.save_notification(
        other_tenant, actor=None, name="Theirs", audience=theirs, message="Hi",
        caller_ids=[number],
    )  # fmt: skip
    body = {"name": "Mine", "csv": "name,phone\n"} if method in ("PUT", "PATCH", "POST") else None

    response = api(acme, method, path.format(a=theirs.pk, n=notification.pk), body)

    assert response.status_code == 404, response.content
    assert response.json()["error"]["code"]


def test_the_routes_are_in_the_openapi_schema(acme):
    schema = api(acme, "GET", "schema?format=json").json()

    paths = set(schema["paths"])
    assert "/t/{tenant_slug}/api/v1/notifications/{id}/launch" in paths
    assert "/t/{tenant_slug}/api/v1/notifications/{id}/results" in paths
    assert "/t/{tenant_slug}/api/v1/audiences/{id}/upload" in paths
    assert "/t/{tenant_slug}/api/v1/notifications/{id}/audio" in paths
    assert not [p for p in paths if "/audio/" in p]  # the engine's fetch URL is no API
    assert not [p for p in paths if "callbacks" in p]
