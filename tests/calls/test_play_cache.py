"""Play caches belong to one tenant (issue 12, defect 3): another tenant naming the same
`playSourceCacheId` (or URL) never hears the owner's audio and cannot put its own audio
into the owner's entries. Files come from a loopback server whose private URL, like a
signed URL that has expired, serves only once."""

import threading
from array import array
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from azure.communication.callautomation import FileSource, PhoneNumberIdentifier
from django.urls import reverse

from calls import call_verbs, media_verbs
from calls.identifiers import Identifier
from calls.models import CallConnection
from carrier.media.audio import Audio
from carrier.media.play_sources import PlaySource, SourceError, load
from tenants import services as tenant_services
from tenants.models import Membership
from tests.factories import add_member

pytestmark = pytest.mark.django_db(transaction=True)


def tone_file(level: int, samples: int) -> bytes:
    return Audio(array("h", [level] * samples).tobytes()).to_wav()


PRIVATE = tone_file(1000, 4000)  # the owner's private greeting, 0.5 s
OWN = tone_file(-2000, 800)  # what the other tenant serves itself, 0.1 s


@pytest.fixture(autouse=True)
def _media_cache(settings, tmp_path):
    settings.MEDIA_CACHE_DIR = tmp_path / "media-cache"


@pytest.fixture
def files():
    """/private.wav answers once (then 404); /own.wav always. `.fetches` counts GETs."""
    fetches: Counter = Counter()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fetches[self.path] += 1
            body = {"/private.wav": PRIVATE, "/own.wav": OWN}.get(self.path, b"")
            if self.path == "/private.wav" and fetches[self.path] > 1:
                body = b""
            self.send_response(200 if body else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.base = f"http://127.0.0.1:{server.server_port}"
    server.fetches = fetches
    yield server
    server.shutdown()


def source(files, path: str, cache_id: str | None = "greeting") -> PlaySource:
    return PlaySource(kind="file", uri=f"{files.base}{path}", cache_id=cache_id)


def test_a_tenant_naming_anothers_cache_id_does_not_hear_its_audio(files, tenant, other_tenant):
    owner = load(source(files, "/private.wav"), tenant_id=tenant.pk)

    other = load(source(files, "/own.wav"), tenant_id=other_tenant.pk)
    with pytest.raises(SourceError) as refused:
        # The same id and URL: fetched for this tenant, where the link has expired.
        load(source(files, "/private.wav"), tenant_id=other_tenant.pk)

    assert owner.pcm == Audio.from_wav(PRIVATE).pcm
    assert other.pcm == Audio.from_wav(OWN).pcm
    assert refused.value.sub_code == 8536
    assert load(source(files, "/private.wav"), tenant_id=tenant.pk).pcm == owner.pcm


def test_a_tenant_cannot_put_its_audio_into_anothers_cache_entry(files, tenant, other_tenant):
    load(source(files, "/own.wav"), tenant_id=other_tenant.pk)

    heard = load(source(files, "/private.wav"), tenant_id=tenant.pk)

    assert heard.pcm == Audio.from_wav(PRIVATE).pcm


def test_a_cache_id_names_audio_only_together_with_its_url(files, tenant):
    first = load(source(files, "/private.wav", cache_id="x"), tenant_id=tenant.pk)
    second = load(source(files, "/own.wav", cache_id="x"), tenant_id=tenant.pk)

    assert (first.samples, second.samples) == (4000, 800)


def test_a_tenants_file_is_fetched_once(files, tenant):
    for _ in range(3):
        load(source(files, "/own.wav", cache_id=None), tenant_id=tenant.pk)

    assert files.fetches["/own.wav"] == 1


def test_speech_is_cached_per_tenant(tenant, other_tenant, settings):
    text = PlaySource(kind="text", text="Your appointment with Doctor Grey is at noon.")

    mine = load(text, tenant_id=tenant.pk)
    theirs = load(text, tenant_id=other_tenant.pk)
    load(text, tenant_id=tenant.pk)

    # Two entries: the second tenant rendered it itself (how fast its prompt started says
    # nothing about what the first tenant had spoken).
    assert len(list(Path(settings.MEDIA_CACHE_DIR).glob("tts-*.wav"))) == 2
    assert mine.pcm == theirs.pcm


# --- through the gateway and the softphone ---------------------------------------------------


def place_call(sdk_client, callbacks, tenant, caller: str, callee: str):
    tenant_services.add_phone_number(tenant, caller, actor=None)
    client = sdk_client(tenant)
    props = client.create_call(
        PhoneNumberIdentifier(callee),
        callbacks.url,
        source_caller_id_number=PhoneNumberIdentifier(caller),
    )
    return client.get_call_connection(props.call_connection_id)


def test_the_gateway_plays_a_cache_id_from_the_playing_tenants_cache_only(
    files, tenant, other_tenant, sdk_client, callbacks, gateway
):
    mine = place_call(sdk_client, callbacks, tenant, "+14255550100", "+14255550123")
    theirs = place_call(sdk_client, callbacks, other_tenant, "+14255550300", "+14255550301")
    gateway.advance(2)
    private = FileSource(f"{files.base}/private.wav", play_source_cache_id="greeting")

    mine.play_media(private, operation_context="owner")
    gateway.advance(1)
    theirs.play_media(private, operation_context="other")
    gateway.advance(1)

    outcomes = {
        e["data"]["operationContext"]: e["type"].removeprefix("Microsoft.Communication.")
        for e in callbacks.events
        if e["type"].endswith(("PlayCompleted", "PlayFailed"))
    }
    assert outcomes == {"owner": "PlayCompleted", "other": "PlayFailed"}


def test_the_softphone_plays_another_tenants_identical_sources_from_its_own_cache(
    files, client, tenant, other_tenant, gateway
):
    payload = [source(files, "/private.wav")]
    ops = []
    for owner, caller in ((tenant, "+14255550100"), (other_tenant, "+14255550300")):
        tenant_services.add_phone_number(owner, caller, actor=None)
        connection = call_verbs.create_call(
            owner, targets=[Identifier.phone("+14255550199")],
            callback_uri="https://app.example.com/callbacks", source_caller_id=caller,
        )  # fmt: skip
        gateway.advance(2)
        connection = CallConnection.unscoped.get(pk=connection.pk)
        ops.append(
            media_verbs.play(owner, connection.call_connection_id, sources=payload, play_to=[])
        )
    add_member(tenant, Membership.Role.VIEWER, username="acme-viewer")
    add_member(other_tenant, Membership.Role.VIEWER, username="globex-viewer")

    def audio(username: str, slug: str, op) -> int:
        client.force_login(Membership.unscoped.get(user__username=username).user)
        url = reverse("portal:softphone_audio", kwargs={"tenant_slug": slug, "op_id": op.op_id})
        return client.get(url)

    assert audio("acme-viewer", "acme", ops[0]).status_code == 200
    assert audio("globex-viewer", "globex", ops[1]).status_code == 404  # its link has expired
