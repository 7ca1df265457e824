"""An uploaded WAV as a notification's message (notifications.audio): the API takes it as
multipart or base64, refuses what the engine could not play (400, ACS error shape), keeps
it in Django storage and serves it at an unguessable URL; another tenant's notification
or token is a 404."""

import io
import json
import struct
import wave
from base64 import b64encode

import pytest
from django.core.files.storage import default_storage
from django.test import Client
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from notifications import audio, services
from tests.acs_signing import sign_headers
from tests.conftest import key_of
from tests.notifications.test_api import api, draft

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock", "media_root")]


def wav(seconds: float = 1.0, rate: int = 8000, width: int = 2) -> bytes:
    """A PCM WAV of a quiet ramp (not silence: the engine plays it as given)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(width)
        w.setframerate(rate)
        frames = int(seconds * rate)
        if width == 2:
            w.writeframes(b"".join(struct.pack("<h", (i % 200) * 10) for i in range(frames)))
        else:
            w.writeframes(bytes((128 + i % 50) for i in range(frames)))
    return out.getvalue()


def float_wav() -> bytes:
    """A RIFF/WAVE file whose format is IEEE float (3), not PCM."""
    samples = struct.pack("<100f", *([0.1] * 100))
    fmt = struct.pack("<HHIIHH", 3, 1, 8000, 32000, 4, 32)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(samples)) + samples
    return b"RIFF" + struct.pack("<I", len(body)) + body


def upload_multipart(tenant, notification_id: int, data: bytes, name: str = "outage.wav"):
    target = f"/t/{tenant.slug}/api/v1/notifications/{notification_id}/audio"
    raw = encode_multipart(BOUNDARY, {"file": _named(data, name)})
    headers = sign_headers("POST", target, raw, key_of(tenant), f"testserver/t/{tenant.slug}")
    return Client().generic(
        "POST", target, data=raw, content_type=MULTIPART_CONTENT, headers=headers, RAW_URI=target
    )


def _named(data: bytes, name: str) -> io.BytesIO:
    handle = io.BytesIO(data)
    handle.name = name
    return handle


def test_a_wav_is_uploaded_as_base64_stored_and_served_to_the_engine(acme, audience):
    notification = draft(acme, audience)

    response = api(
        acme, "POST", f"notifications/{notification.pk}/audio",
        {"base64": b64encode(wav(2.0, rate=16000)).decode(), "fileName": "outage.wav"},
    )  # fmt: skip

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["audioName"], body["audioSeconds"]) == ("outage.wav", 2.0)
    notification.refresh_from_db()
    assert default_storage.exists(notification.audio_file.name)
    assert len(notification.audio_token) >= 40
    served = Client().get(audio.url(notification).split("testserver", 1)[-1])
    assert served.status_code == 200
    assert served["Content-Type"] == "audio/wav"
    played = b"".join(served.streaming_content)
    assert played[:4] == b"RIFF"
    assert played == audio.read(notification)  # canonical: 8 kHz mono 16-bit
    with wave.open(io.BytesIO(played)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getnframes()) == (8000, 1, 16000)


def test_a_wav_is_uploaded_as_multipart_and_replaces_the_last(
    acme, audience, django_capture_on_commit_callbacks
):
    notification = draft(acme, audience)
    first = upload_multipart(acme, notification.pk, wav(1.0), "first.wav")
    assert first.status_code == 200, first.content
    notification.refresh_from_db()
    old_name, old_token = notification.audio_file.name, notification.audio_token

    with django_capture_on_commit_callbacks(execute=True):  # the old file goes on commit
        response = upload_multipart(acme, notification.pk, wav(3.0, width=1), "second.wav")

    assert response.status_code == 200, response.content
    assert (response.json()["audioName"], response.json()["audioSeconds"]) == ("second.wav", 3.0)
    notification.refresh_from_db()
    assert notification.audio_token != old_token
    assert not default_storage.exists(old_name)
    assert (
        Client().get(f"/t/{acme.slug}/api/v1/notifications/audio/{old_token}.wav").status_code
        == 404
    )


def test_removing_the_upload_goes_back_to_the_text(
    acme, audience, django_capture_on_commit_callbacks
):
    notification = draft(acme, audience)
    upload_multipart(acme, notification.pk, wav(1.0))
    notification.refresh_from_db()
    stored = notification.audio_file.name

    with django_capture_on_commit_callbacks(execute=True):
        response = api(acme, "DELETE", f"notifications/{notification.pk}/audio")

    assert response.status_code == 200, response.content
    assert response.json()["audioName"] == ""
    assert not default_storage.exists(stored)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"name,phone\nAnn,+1425\n", "not a WAV"),
        (float_wav(), "must be PCM"),
        (wav(181.0, width=1), "at most 180 s"),
        (b"RIFF" + bytes(4) + b"WAVE" + bytes(audio.MAX_BYTES), "larger than 1.8 MB"),
        (b"RIFF" + bytes(4) + b"WAVE" + bytes(3_000_000), "RequestBodyTooLarge"),
        (b"RIFF\x04\x00\x00\x00WAVE", "cannot be played"),
    ],
    ids=["text", "float", "too-long", "too-large", "over-the-body-limit", "truncated"],
)
def test_a_bad_file_is_refused_with_400_in_the_acs_shape(acme, audience, data, says):
    notification = draft(acme, audience)

    response = upload_multipart(acme, notification.pk, data)

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"]
    assert says in json.dumps(error)
    notification.refresh_from_db()
    assert not notification.audio_file
    assert not notification.audio_token


@pytest.mark.parametrize("body", [{}, {"base64": "not base64!"}], ids=["nothing", "bad-base64"])
def test_a_bad_body_is_refused_with_400(acme, audience, body):
    notification = draft(acme, audience)

    response = api(acme, "POST", f"notifications/{notification.pk}/audio", body)

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"]


def test_a_launched_notifications_message_cannot_change(acme, audience):
    from tests.notifications.conftest import household

    household(acme, 1)
    notification = draft(acme, audience)
    services.launch(acme, notification.pk, actor=None)

    response = upload_multipart(acme, notification.pk, wav(1.0))

    assert response.status_code == 409, response.content


def test_another_tenants_upload_is_a_404(acme, audience, other_tenant):
    from tenants import services as tenant_services

    number = tenant_services.add_phone_number(other_tenant, "+14255550188", actor=None)
    theirs = services.save_audience(other_tenant, actor=None, name="Theirs", everyone=True)
    notification = services.save_notification(
        other_tenant, actor=None, name="Theirs", audience=theirs, message="Hi",
        caller_ids=[number],
    )  # fmt: skip
    audio.attach(other_tenant, notification.pk, wav(1.0), name="theirs.wav", actor=None)
    notification.refresh_from_db()

    assert upload_multipart(acme, notification.pk, wav(1.0)).status_code == 404
    assert api(acme, "DELETE", f"notifications/{notification.pk}/audio").status_code == 404
    # Their token under our address is no file either (and theirs still plays).
    token = notification.audio_token
    ours = Client().get(f"/t/{acme.slug}/api/v1/notifications/audio/{token}.wav")
    assert ours.status_code == 404
    assert ours.json()["error"]["code"]
    assert (
        Client().get(f"/t/{other_tenant.slug}/api/v1/notifications/audio/{token}.wav").status_code
        == 200
    )
    assert Client().get(f"/t/{acme.slug}/api/v1/notifications/audio/guess.wav").status_code == 404
