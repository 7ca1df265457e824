"""Recordings in the portal (list, play, download, delete, legal hold) and on the tenant
REST API; roles and other tenants."""

import json

import pytest

from recordings.models import Recording
from tenants.models import AuditEntry, Membership
from tests.callauto.test_hmac_auth import send
from tests.calls.api_support import assert_error, signed
from tests.conftest import key_of

pytestmark = pytest.mark.django_db(transaction=True)

Role = Membership.Role


@pytest.fixture
def stored(client, tenant, p2p, gateway):
    """A stopped two-second recording of acme's call, with its file."""
    body = {"callLocator": {"kind": "serverCallLocator", "serverCallId": p2p.server_call_id}}
    recording_id = signed(client, tenant, "POST", "recordings", body).json()["recordingId"]
    gateway.advance(2)
    signed(client, tenant, "DELETE", f"recordings/{recording_id}")
    gateway.advance(0.1)
    return Recording.unscoped.get(recording_id=recording_id)


def page_url(tenant) -> str:
    return f"/portal/t/{tenant.slug}/recordings/"


def test_a_viewer_sees_recordings_with_a_player(client, tenant, stored, member_client):
    member_client(Role.VIEWER)
    chunk = stored.chunks.get()

    response = client.get(page_url(tenant))

    assert response.status_code == 200
    assert f"/recordings/{chunk.document_id}/file" in response.content.decode()
    assert "<audio" in response.content.decode()


def test_the_player_gets_the_file_and_a_range_of_it(client, tenant, stored, member_client):
    member_client(Role.VIEWER)
    url = f"/portal/t/{tenant.slug}/recordings/{stored.chunks.get().document_id}/file"

    whole = client.get(url)
    part = client.get(url, headers={"Range": "bytes=0-43"})

    assert whole.status_code == 200
    assert whole["Content-Type"] == "audio/wav"
    assert part.status_code == 206
    assert part.content == whole.content[:44]


def test_a_viewer_cannot_delete_or_hold(client, tenant, stored, member_client):
    member_client(Role.VIEWER)

    deleted = client.post(page_url(tenant), {"recording": stored.recording_id, "delete": "1"})
    held = client.post(page_url(tenant), {"recording": stored.recording_id, "hold": "on"})

    assert deleted.status_code == held.status_code == 403
    assert Recording.unscoped.get(pk=stored.pk).legal_hold is False


def test_an_admin_holds_then_cannot_delete_until_the_hold_is_lifted(
    client, tenant, stored, member_client, recordings_dir
):
    member_client(Role.ADMIN)

    client.post(page_url(tenant), {"recording": stored.recording_id, "hold": "on"})
    refused = client.post(
        page_url(tenant), {"recording": stored.recording_id, "delete": "1"}, follow=True
    )
    assert "legal hold" in refused.content.decode()
    assert Recording.unscoped.filter(pk=stored.pk).exists()

    client.post(page_url(tenant), {"recording": stored.recording_id, "hold": "off"})
    client.post(page_url(tenant), {"recording": stored.recording_id, "delete": "1"})

    assert not Recording.unscoped.filter(pk=stored.pk).exists()
    assert not list(recordings_dir.rglob("*.wav"))
    assert AuditEntry.unscoped.filter(action="recording.delete").count() == 1


def test_another_tenants_recording_is_not_found_in_the_portal(client, tenant, other_tenant, stored):
    client.force_login(other_tenant.memberships.get().user)
    chunk = stored.chunks.get()

    file = client.get(f"/portal/t/{other_tenant.slug}/recordings/{chunk.document_id}/file")
    action = client.post(
        f"/portal/t/{other_tenant.slug}/recordings/",
        {"recording": stored.recording_id, "delete": "1"},
    )

    assert file.status_code == action.status_code == 404
    assert Recording.unscoped.filter(pk=stored.pk).exists()


# --- tenant REST API -------------------------------------------------------------------------


def api(client, tenant, method: str, path: str = "", body: object = None):
    raw = json.dumps(body).encode() if body is not None else b""
    return send(
        client, method, f"/t/{tenant.slug}/api/v1/recordings{path}", key=key_of(tenant),
        body=raw, host=f"testserver/t/{tenant.slug}",
    )  # fmt: skip


def test_the_api_lists_recordings_with_their_file_locations(client, tenant, stored):
    response = api(client, tenant, "GET")

    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row["recordingId"] == stored.recording_id
    assert row["state"] == "stopped"
    assert row["recordedSeconds"] == pytest.approx(2.0)
    assert row["chunks"][0]["contentLocation"].endswith("/content/audio")
    assert len(row["chunks"][0]["sha256"]) == 64


def test_the_api_sets_a_legal_hold_and_refuses_deleting_then(client, tenant, stored):
    held = api(client, tenant, "PATCH", f"/{stored.recording_id}", {"legalHold": True})
    refused = api(client, tenant, "DELETE", f"/{stored.recording_id}")

    assert held.status_code == 200
    assert held.json()["legalHold"] is True
    assert_error(refused, 409, "RecordingUnderLegalHold")
    assert (
        api(client, tenant, "PATCH", f"/{stored.recording_id}", {"legalHold": False}).status_code
        == 200
    )
    assert api(client, tenant, "DELETE", f"/{stored.recording_id}").status_code == 204
    assert not Recording.unscoped.exists()


@pytest.mark.parametrize("body", [{"legalHold": "yes"}, {}, [True]])
def test_the_api_refuses_a_bad_legal_hold_body(client, tenant, stored, body):
    response = api(client, tenant, "PATCH", f"/{stored.recording_id}", body)

    assert_error(response, 400)
    assert Recording.unscoped.get(pk=stored.pk).legal_hold is False


@pytest.mark.parametrize("method", ["GET", "DELETE", "PATCH"])
def test_the_api_answers_404_for_another_tenants_recording(client, other_tenant, stored, method):
    body = {"legalHold": True} if method == "PATCH" else None

    response = api(client, other_tenant, method, f"/{stored.recording_id}", body)

    assert_error(response, 404)
    assert Recording.unscoped.get(pk=stored.pk).legal_hold is False
    assert api(client, other_tenant, "GET").json()["results"] == []
