"""Roles and suspension on the tenant REST API (`/t/<slug>/api/v1/`), for portal sessions
and for access keys: the same permission table the portal enforces (tenants.permissions)."""

import json

import pytest

from calls.models import Call, CallConnection
from recordings.models import Recording
from tenants import services
from tenants.models import AccessKey, AuditEntry, Membership, Tenant
from tests.callauto.test_hmac_auth import send
from tests.conftest import key_of
from tests.factories import make_call_delivery
from webhooks.models import Delivery

pytestmark = pytest.mark.django_db

Role = Membership.Role


@pytest.fixture
def recording(tenant) -> Recording:
    call = Call.unscoped.create(tenant=tenant, direction=Call.Direction.OUTBOUND)
    return Recording.unscoped.create(
        tenant=tenant, call=call, state=Recording.State.STOPPED, started_by="test"
    )


@pytest.fixture
def dead_delivery(tenant) -> Delivery:
    call = Call.unscoped.create(tenant=tenant, direction=Call.Direction.OUTBOUND)
    connection = CallConnection.unscoped.create(
        tenant=tenant, call=call, callback_uri="https://acme.example.com/cb"
    )
    delivery = make_call_delivery(
        tenant, call, state=Delivery.State.DEAD, url="https://acme.example.com/cb"
    )
    Delivery.unscoped.filter(pk=delivery.pk).update(
        labels={**delivery.labels, "callConnectionId": connection.call_connection_id}
    )
    return delivery


def session_call(client, method: str, path: str, body: object = None):
    return client.generic(
        method,
        f"/t/acme/api/v1/{path}",
        data=json.dumps(body) if body is not None else "",
        content_type="application/json",
    )


def key_call(client, tenant, method: str, path: str, body: object = None, key: str = "primary"):
    raw = json.dumps(body).encode() if body is not None else b""
    return send(
        client, method, f"/t/{tenant.slug}/api/v1/{path}", key=key_of(tenant, key), body=raw,
        host=f"testserver/t/{tenant.slug}",
    )  # fmt: skip


def assert_forbidden(response) -> None:
    assert response.status_code == 403, response.content
    assert response.json()["error"]["code"] == "Forbidden"


def set_key_role(tenant: Tenant, role: str, name: str = "primary") -> None:
    AccessKey.unscoped.filter(tenant=tenant, name=name).update(role=role)


# --- defect 4: the API enforces the roles the portal does ------------------------------------


def test_a_viewers_session_cannot_lift_a_legal_hold(client, tenant, member_client, recording):
    Recording.unscoped.filter(pk=recording.pk).update(legal_hold=True)
    member_client(Role.VIEWER)

    response = session_call(
        client, "PATCH", f"recordings/{recording.recording_id}", {"legalHold": False}
    )

    assert_forbidden(response)
    assert Recording.unscoped.get(pk=recording.pk).legal_hold is True


def test_a_viewers_session_cannot_delete_a_recording(client, tenant, member_client, recording):
    member_client(Role.VIEWER)

    assert_forbidden(session_call(client, "DELETE", f"recordings/{recording.recording_id}"))
    assert Recording.unscoped.filter(pk=recording.pk).exists()


def test_an_operators_session_cannot_set_a_legal_hold(client, tenant, member_client, recording):
    member_client(Role.OPERATOR)

    response = session_call(
        client, "PATCH", f"recordings/{recording.recording_id}", {"legalHold": True}
    )

    assert_forbidden(response)
    assert Recording.unscoped.get(pk=recording.pk).legal_hold is False


def test_an_admins_session_sets_a_legal_hold(client, tenant, member_client, recording):
    member_client(Role.ADMIN)

    response = session_call(
        client, "PATCH", f"recordings/{recording.recording_id}", {"legalHold": True}
    )

    assert response.status_code == 200
    assert Recording.unscoped.get(pk=recording.pk).legal_hold is True


def test_a_viewers_session_cannot_redeliver(client, tenant, member_client, dead_delivery):
    member_client(Role.VIEWER)

    one = session_call(client, "POST", f"deliveries/{dead_delivery.pk}/redeliver")
    since = session_call(client, "POST", "deliveries/redeliver", {"since": "2020-01-01T00:00Z"})

    assert_forbidden(one)
    assert_forbidden(since)
    assert Delivery.unscoped.get(pk=dead_delivery.pk).state == Delivery.State.DEAD


def test_an_operators_session_redelivers(client, tenant, member_client, dead_delivery):
    member_client(Role.OPERATOR)

    response = session_call(client, "POST", f"deliveries/{dead_delivery.pk}/redeliver")

    assert response.status_code == 202


def test_a_key_given_the_operator_role_cannot_delete_a_recording(client, tenant, recording):
    set_key_role(tenant, Role.OPERATOR)

    assert_forbidden(key_call(client, tenant, "DELETE", f"recordings/{recording.recording_id}"))
    assert Recording.unscoped.filter(pk=recording.pk).exists()


def test_a_key_given_the_viewer_role_reads_but_cannot_redeliver(client, tenant, dead_delivery):
    set_key_role(tenant, Role.VIEWER)

    assert key_call(client, tenant, "GET", "deliveries").status_code == 200
    assert_forbidden(key_call(client, tenant, "POST", f"deliveries/{dead_delivery.pk}/redeliver"))
    assert Delivery.unscoped.get(pk=dead_delivery.pk).state == Delivery.State.DEAD


def test_a_new_tenants_keys_are_admin_keys_and_delete_recordings(client, tenant, recording):
    assert set(AccessKey.objects.for_tenant(tenant).values_list("role", flat=True)) == {"admin"}

    response = key_call(client, tenant, "DELETE", f"recordings/{recording.recording_id}")

    assert response.status_code == 204


# --- defect 5: suspension applies to every way in ---------------------------------------------


@pytest.fixture
def suspended(tenant) -> Tenant:
    return services.set_tenant_status(tenant, Tenant.Status.SUSPENDED, actor=None)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "tenant", None),
        ("GET", "recordings", None),
        ("GET", "usage", None),
        ("POST", "reminders/dispatch", None),
        ("POST", "contacts", {"name": "Ann", "phone": "+14255550100"}),
    ],
)
def test_a_suspended_tenants_owner_session_is_refused(client, user, suspended, method, path, body):
    client.force_login(user)
    audit_before = AuditEntry.unscoped.count()

    response = session_call(client, method, path, body)

    assert_forbidden(response)
    assert "suspended" in response.json()["error"]["message"]
    assert AuditEntry.unscoped.count() == audit_before


def test_a_suspended_tenants_key_is_refused_on_the_recording_downloads(
    client, suspended, recording
):
    target = "/t/acme/recordings/v1/objects/no-such-document/content/audio"

    response = send(client, "GET", target, key=key_of(suspended))

    assert_forbidden(response)
