"""A notification's uploaded message: a WAV the operator sends (portal or API), checked,
kept through Django's default storage in the engine's canonical format, and served to the
engine at an unguessable URL (the token is the only key: the engine fetches file play
sources without credentials, as it would a customer's).
"""

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.urls import reverse

from carrier.media.audio import RATE, Audio, AudioFormatError
from notifications.models import Notification
from notifications.services import InvalidTransition
from tenants import audit
from tenants.audit import Actor
from tenants.models import Tenant

# Of the file as uploaded: base64 of it (4/3) still fits the API's request body limit
# (DATA_UPLOAD_MAX_MEMORY_SIZE, 2.5 MB): 112 s of 8 kHz 16-bit mono.
MAX_BYTES = 1_800_000
MAX_SECONDS = 180  # a message longer than 3 minutes is not heard to the end


def check(data: bytes) -> Audio:
    """The upload's audio, or ValidationError({"file": why}) for anything the engine
    could not play: not RIFF/WAVE, not PCM, too large, too long, silent-empty."""
    if len(data) > MAX_BYTES:
        raise ValidationError({"file": f"The file is larger than {MAX_BYTES / 1e6:.1f} MB."})
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValidationError({"file": "The file is not a WAV (RIFF/WAVE) file."})
    try:
        audio = Audio.from_wav(data)
    except AudioFormatError as exc:
        raise ValidationError(
            {"file": f"The WAV cannot be played; it must be PCM (8/16/24/32-bit): {exc}"}
        ) from exc
    if not audio.samples:
        raise ValidationError({"file": "The WAV holds no audio."})
    if audio.samples / RATE > MAX_SECONDS:
        raise ValidationError(
            {"file": f"The message is {audio.samples / RATE:.0f} s long; at most {MAX_SECONDS} s."}
        )
    return audio


@transaction.atomic
def attach(
    tenant: Tenant, notification_id: int, data: bytes, *, name: str, actor: Actor
) -> Notification:
    """Store `data` (a WAV) as the draft's message, replacing any earlier upload; the
    engine plays it instead of the text. Raises ValidationError (see `check`),
    services.InvalidTransition for a launched notification, DoesNotExist for another
    tenant's."""
    notification = (
        Notification.objects.for_tenant(tenant).select_for_update().get(pk=notification_id)
    )
    if notification.status != Notification.Status.DRAFT:
        raise InvalidTransition("Only a draft notification's message can change.")
    audio = check(data)
    old = notification.audio_file.name
    token = secrets.token_urlsafe(32)
    # Stored canonical (8 kHz mono PCM): what the engine plays, small, and known to play.
    stored = default_storage.save(
        f"notifications/audio/{tenant.pk}/{token}.wav", ContentFile(audio.to_wav())
    )
    notification.audio_file.name = stored
    notification.audio_token = token
    notification.audio_name = (name or "message.wav")[:200]
    notification.audio_seconds = round(audio.samples / RATE, 2)
    notification.save(
        update_fields=["audio_file", "audio_token", "audio_name", "audio_seconds", "updated_at"]
    )
    if old:
        transaction.on_commit(lambda: default_storage.delete(old))
    audit.record(
        tenant,
        actor=actor,
        action="notification.audio",
        target=notification,
        after={"audio": notification.audio_name, "seconds": notification.audio_seconds},
    )
    return notification


@transaction.atomic
def detach(tenant: Tenant, notification_id: int, *, actor: Actor) -> Notification:
    """Forget the draft's uploaded WAV (the text, or audioUrl, is played again). Raises
    ValidationError if nothing would be left to play, like attach otherwise."""
    notification = (
        Notification.objects.for_tenant(tenant).select_for_update().get(pk=notification_id)
    )
    if notification.status != Notification.Status.DRAFT:
        raise InvalidTransition("Only a draft notification's message can change.")
    if not notification.audio_file:
        return notification
    if not notification.message and not notification.audio_url:
        raise ValidationError({"file": "Give the message text first: nothing would be played."})
    old = notification.audio_file.name
    notification.audio_file.name = ""
    notification.audio_token = notification.audio_name = ""
    notification.audio_seconds = 0
    notification.save(
        update_fields=["audio_file", "audio_token", "audio_name", "audio_seconds", "updated_at"]
    )
    transaction.on_commit(lambda: default_storage.delete(old))
    audit.record(tenant, actor=actor, action="notification.audio", target=notification,
                 after={"audio": ""})  # fmt: skip
    return notification


def url(notification: Notification) -> str:
    """Where the engine fetches the uploaded WAV (our callback base: the engine reaches it)."""
    base = settings.NOTIFICATIONS_CALLBACK_BASE_URL.rstrip("/")
    path = reverse(
        "notifications-audio",
        kwargs={"tenant_slug": notification.tenant.slug, "token": notification.audio_token},
    )
    return f"{base}{path}"


def read(notification: Notification) -> bytes:
    with default_storage.open(notification.audio_file.name, "rb") as handle:
        return handle.read()
