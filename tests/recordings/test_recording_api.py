"""The recording routes refuse bad input and other tenants' ids, and change nothing then."""

import pytest
from django.test import Client

from callauto.errors import NotFound
from calls.models import CallEvent, CarrierCommand
from recordings import services
from recordings.models import Recording, RecordingChunk
from tests.acs_signing import sign_headers
from tests.calls.api_support import TEAMS, assert_error, phone, signed, snapshot
from tests.conftest import key_of
from tests.recordings.conftest import AGENT, CUSTOMER

pytestmark = pytest.mark.django_db(transaction=True)

TABLES = (Recording, RecordingChunk, CarrierCommand, CallEvent)


def start_body(call, **changes) -> dict:
    return {
        "callLocator": {"kind": "serverCallLocator", "serverCallId": call.server_call_id},
        "channelAffinity": [],
        **changes,
    }


def start(client, tenant, call, **changes):
    return signed(client, tenant, "POST", "recordings", start_body(call, **changes))


BAD_STARTS = [
    ({"callLocator": None}, 400, "callLocator"),  # neither locator nor connection
    ({"callConnectionId": "abc"}, 400, "exactly one"),  # both
    ({"callLocator": {"kind": "serverCallLocator"}}, 400, "serverCallId"),
    ({"callLocator": {"kind": "somethingElse", "serverCallId": "x"}}, 400, "kind"),
    ({"callLocator": {"kind": "roomCallLocator", "roomId": "r"}}, 400, "rooms"),
    ({"callLocator": {"kind": "groupCallLocator", "groupCallId": "not-a-guid"}}, 400, "GUID"),
    ({"callLocator": "server-call"}, 400, "callLocator"),
    ({"recordingContentType": "audioVideo"}, 400, "audio only"),
    ({"recordingFormatType": "mp4"}, 400, "mp4"),
    ({"recordingFormatType": "ogg"}, 400, "recordingFormatType"),
    ({"recordingChannelType": "stereo"}, 400, "recordingChannelType"),
    ({"recordingChannelType": "unmixed", "recordingFormatType": "mp3"}, 400, "wav only"),
    ({"pauseOnStart": "yes"}, 400, "pauseOnStart"),
    ({"recordingStateCallbackUri": "ftp://example.com/x"}, 400, "recordingStateCallbackUri"),
    ({"recordingStateCallbackUri": "http://169.254.169.254/latest"}, 400, "not allowed"),
    ({"externalStorage": {"recordingStorageKind": "azureBlobStorage"}}, 400, "external"),
    ({"channelAffinity": [{"channel": 0, "participant": TEAMS}]}, 400, "Teams"),
    ({"channelAffinity": [{"channel": -1, "participant": phone("+14255550177")}]}, 400, "≥ 0"),
    ({"channelAffinity": [{"channel": 0}]}, 400, "participant"),
    (
        {
            "channelAffinity": [
                {"channel": 0, "participant": {"rawId": AGENT}},
                {"channel": 1, "participant": {"rawId": AGENT}},
            ]
        },
        400,
        "twice",
    ),
    (
        {
            "channelAffinity": [
                {"channel": 0, "participant": {"rawId": AGENT}},
                {"channel": 0, "participant": {"rawId": CUSTOMER}},
            ]
        },
        400,
        "one participant",
    ),
    ({"audioChannelParticipantOrdering": [{"rawId": ""}]}, 400, "audioChannelParticipant"),
]


@pytest.mark.parametrize(("changes", "status", "mentions"), BAD_STARTS)
def test_start_recording_refuses_bad_input_and_records_nothing(
    client, tenant, p2p, changes, status, mentions
):
    before = snapshot(TABLES)

    response = start(client, tenant, p2p, **changes)

    error = assert_error(response, status)
    assert mentions.lower() in (error["message"] + error["code"]).lower()
    assert snapshot(TABLES) == before


@pytest.mark.parametrize("body", [b"not json", b"[]", b'"text"', b'{"callLocator": {"kind": 3}}'])
def test_start_recording_refuses_a_body_that_is_not_an_object(client, tenant, p2p, body):
    assert_error(signed(client, tenant, "POST", "recordings", body), 400)
    assert not Recording.unscoped.exists()


def test_starting_twice_on_one_call_is_refused_and_keeps_the_first(client, tenant, p2p):
    first = start(client, tenant, p2p)
    before = snapshot(TABLES)

    second = start(client, tenant, p2p)

    assert first.status_code == 200
    assert_error(second, 409, "RecordingAlreadyActive")
    assert snapshot(TABLES) == before


def test_a_repeated_start_with_the_same_repeatability_id_answers_the_same(client, tenant, p2p):
    target = f"/t/{tenant.slug}/calling/recordings?api-version=2026-03-12"
    raw = __import__("json").dumps(start_body(p2p)).encode()

    def send():
        headers = sign_headers("POST", target, raw, key_of(tenant), f"testserver/t/{tenant.slug}")
        headers["Repeatability-Request-ID"] = "0f5b1c2e-3a4d-4e5f-8a9b-0c1d2e3f4a5b"
        headers["Repeatability-First-Sent"] = "Wed, 25 Nov 2026 10:00:00 GMT"
        return client.generic(
            "POST", target, data=raw, content_type="application/json", headers=headers,
            RAW_URI=target,
        )  # fmt: skip

    first, again = send(), send()

    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert Recording.unscoped.count() == 1


def test_pausing_a_stopped_recording_is_refused_and_changes_nothing(client, tenant, p2p, gateway):
    recording_id = start(client, tenant, p2p).json()["recordingId"]
    assert signed(client, tenant, "DELETE", f"recordings/{recording_id}").status_code == 204
    gateway.advance(0.1)
    before = snapshot(TABLES)

    response = signed(client, tenant, "POST", f"recordings/{recording_id}:pause")

    assert_error(response, 409, "RecordingNotActive")
    assert snapshot(TABLES) == before
    assert Recording.unscoped.get().state == Recording.State.STOPPED


def test_the_lifecycle_answers_with_the_exact_statuses(client, tenant, p2p, gateway):
    started = start(client, tenant, p2p, pauseOnStart=True)
    recording_id = started.json()["recordingId"]

    assert started.status_code == 200
    assert started.json()["recordingState"] == "inactive"  # paused on start
    assert started.json()["recordingKind"] == "azureCommunicationServices"
    resumed = signed(client, tenant, "POST", f"recordings/{recording_id}:resume")
    assert resumed.status_code == 202
    got = signed(client, tenant, "GET", f"recordings/{recording_id}")
    assert got.status_code == 200
    assert got.json()["recordingState"] == "active"
    assert signed(client, tenant, "POST", f"recordings/{recording_id}:pause").status_code == 202
    assert signed(client, tenant, "DELETE", f"recordings/{recording_id}").status_code == 204
    # Stopping again changes nothing and says so the same way.
    assert signed(client, tenant, "DELETE", f"recordings/{recording_id}").status_code == 204


def test_a_disconnected_call_cannot_be_recorded(client, tenant, p2p, gateway):
    from django.db import transaction

    from calls.call_verbs import end_call

    with transaction.atomic():
        end_call(p2p, code=200, sub_code=0, message="done")

    assert_error(start(client, tenant, p2p), 400, "CallNotActive")
    assert not Recording.unscoped.exists()


def test_an_unknown_server_call_is_not_found(client, tenant, p2p):
    response = signed(
        client, tenant, "POST", "recordings",
        {"callLocator": {"kind": "serverCallLocator", "serverCallId": "nope"}},
    )  # fmt: skip
    assert_error(response, 404)


def test_a_group_call_is_found_by_its_correlation_id(client, tenant, p2p):
    response = signed(
        client, tenant, "POST", "recordings",
        {"callLocator": {"kind": "groupCallLocator", "groupCallId": str(p2p.correlation_id)}},
    )  # fmt: skip
    assert response.status_code == 200


# --- other tenants --------------------------------------------------------------------------


@pytest.fixture
def stored(client, tenant, p2p, gateway):
    """A stopped recording of acme's call, with its file."""
    recording_id = start(client, tenant, p2p).json()["recordingId"]
    gateway.advance(1)
    signed(client, tenant, "DELETE", f"recordings/{recording_id}")
    gateway.advance(0.1)
    return Recording.unscoped.get(recording_id=recording_id)


def test_another_tenants_server_call_cannot_be_recorded(client, tenant, other_tenant, p2p):
    assert_error(start(client, other_tenant, p2p), 404)
    assert not Recording.unscoped.exists()


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("GET", ""), ("DELETE", ""), ("POST", ":pause"), ("POST", ":resume")],
)
def test_another_tenants_recording_is_not_found_on_every_route(
    client, other_tenant, stored, method, suffix
):
    before = snapshot(TABLES)

    response = signed(client, other_tenant, method, f"recordings/{stored.recording_id}{suffix}")

    assert_error(response, 404, "RecordingNotFound")
    assert snapshot(TABLES) == before


def download(client: Client, tenant, path: str, method: str = "GET"):
    target = f"/t/{tenant.slug}/recordings/{path}"
    headers = sign_headers(method, target, b"", key_of(tenant), f"testserver/t/{tenant.slug}")
    return client.generic(method, target, headers=headers, RAW_URI=target)


@pytest.mark.parametrize(
    ("method", "suffix"), [("GET", "/content/audio"), ("GET", "/content/acsmetadata"),
                           ("DELETE", "")],
)  # fmt: skip
def test_another_tenants_recording_files_are_not_found(
    client, tenant, other_tenant, stored, method, suffix
):
    chunk = stored.chunks.get()
    path = f"v1/objects/{chunk.document_id}{suffix}"

    assert download(client, tenant, path, method="GET").status_code in (200, 405)
    assert_error(download(client, other_tenant, path, method=method), 404)
    assert Recording.unscoped.filter(pk=stored.pk).exists()


def test_a_download_needs_a_valid_signature(client, tenant, stored):
    chunk = stored.chunks.get()
    target = f"/t/{tenant.slug}/recordings/v1/objects/{chunk.document_id}/content/audio"

    assert client.get(target).status_code == 401


def test_a_recording_under_legal_hold_cannot_be_deleted(client, tenant, stored):
    services.set_legal_hold(tenant, stored, held=True, actor=None)
    chunk = stored.chunks.get()

    response = download(client, tenant, f"v1/objects/{chunk.document_id}", method="DELETE")

    assert_error(response, 409, "RecordingUnderLegalHold")
    assert Recording.unscoped.filter(pk=stored.pk).exists()


def test_an_id_with_a_nul_byte_is_not_found(tenant):
    with pytest.raises(NotFound):
        services.get_recording(tenant, "abc\x00")


def test_a_recording_of_a_call_the_carrier_already_lost_fails_to_start(
    client, tenant, p2p, gateway, callbacks
):
    from calls.models import Participant

    response = start(client, tenant, p2p, recordingStateCallbackUri=callbacks.url)
    for leg in Participant.unscoped.filter(call=p2p).values_list("leg_id", flat=True):
        gateway.carrier.hang_up(str(leg))  # the network dropped it before the gateway acted
    gateway.advance(0.1)

    [failed] = callbacks.of_type("StartRecordingFailed")
    assert failed["data"]["recordingId"] == response.json()["recordingId"]
    assert failed["data"]["resultInformation"]["code"] == 500
    assert Recording.unscoped.get().state == Recording.State.FAILED
    assert not callbacks.of_type("RecordingStateChanged")[1:]  # only the start's "active"


def test_a_recording_the_driver_fails_to_start_fails_alone(
    client, tenant, p2p, gateway, callbacks, monkeypatch
):
    def out_of_disk(command: object) -> None:
        raise OSError("the recorder's disk is full")

    monkeypatch.setattr(gateway.carrier, "start_recording", out_of_disk)  # the broken network
    response = start(client, tenant, p2p, recordingStateCallbackUri=callbacks.url)
    gateway.advance(0.1)

    [failed] = callbacks.of_type("StartRecordingFailed")
    assert failed["data"]["recordingId"] == response.json()["recordingId"]
    assert failed["data"]["resultInformation"]["code"] == 500
    assert Recording.unscoped.get().state == Recording.State.FAILED
    command = CarrierCommand.unscoped.get(kind=CarrierCommand.Kind.RECORD_START)
    assert command.state == CarrierCommand.State.FAILED
    p2p.refresh_from_db()
    assert p2p.state == "connected"  # the call itself goes on
