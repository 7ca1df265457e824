"""Media streaming and transcription verbs: the options given on create/answer, start,
stop and (transcription) update, and what the carrier reports about the streams.

A connection holds at most one of each, as ACS does: its `media_streaming` /
`transcription` JSON keeps the options (url, channel, rate, bidirectional, locale), the
subscription id and its state (inactive -> starting -> active -> stopping -> inactive).
Starting writes a STREAM_START command; the gateway connects the carrier's stream to the
app's WebSocket and the carrier reports back (StreamOutcome), which becomes
MediaStreamingStarted/Stopped/Failed or TranscriptionStarted/Stopped/Failed. Phrases the
transcription recognizes are stored with the call (TranscriptLine).
"""

import uuid

from django.db import transaction
from django.db.models import Q

from callauto.errors import BadRequest
from calls import events
from calls.lookups import get_connection, require_active
from calls.models import CallConnection, CarrierCommand, TranscriptLine
from carrier.interface import CarrierEvent, StreamOutcome
from tenants.models import Tenant

STREAMING, TRANSCRIPTION = "media_streaming", "transcription"
INACTIVE, STARTING, ACTIVE, STOPPING = "inactive", "starting", "active", "stopping"
_NAMES = {STREAMING: "MediaStreaming", TRANSCRIPTION: "Transcription"}
_OPTIONS = {STREAMING: "mediaStreamingOptions", TRANSCRIPTION: "transcriptionOptions"}


def configure(
    connection: CallConnection, *, media_streaming: dict | None, transcription: dict | None
) -> None:
    """Keep the options a create or answer gave; start those asked to start at once."""
    changed = []
    for field, options in ((STREAMING, media_streaming), (TRANSCRIPTION, transcription)):
        if options:
            setattr(connection, field, {**options, "id": str(uuid.uuid4()), "state": INACTIVE})
            changed.append(field)
    if not changed:
        return
    CallConnection.unscoped.filter(pk=connection.pk).update(
        **{field: getattr(connection, field) for field in changed}
    )
    for field in changed:
        if getattr(connection, field).get("start"):
            _start(connection, field, "", "")


@transaction.atomic
def start_media_streaming(
    tenant: Tenant,
    call_connection_id: str,
    *,
    operation_context: str = "",
    operation_callback_uri: str = "",
) -> None:
    """Start streaming the call's audio to the WebSocket named on create/answer.
    Raises BadRequest when no options were given or it is already started."""
    connection = get_connection(tenant, call_connection_id, lock=True)
    require_active(connection)
    _start(connection, STREAMING, operation_context, operation_callback_uri)


@transaction.atomic
def stop_media_streaming(
    tenant: Tenant,
    call_connection_id: str,
    *,
    operation_context: str = "",
    operation_callback_uri: str = "",
) -> None:
    connection = get_connection(tenant, call_connection_id, lock=True)
    require_active(connection)
    _stop(connection, STREAMING, operation_context, operation_callback_uri)


@transaction.atomic
def start_transcription(
    tenant: Tenant,
    call_connection_id: str,
    *,
    locale: str = "",
    operation_context: str = "",
    operation_callback_uri: str = "",
) -> None:
    """Start transcribing the call to the WebSocket named on create/answer (in `locale`,
    else the one given then)."""
    connection = get_connection(tenant, call_connection_id, lock=True)
    require_active(connection)
    if locale and connection.transcription:
        connection.transcription["locale"] = locale
    _start(connection, TRANSCRIPTION, operation_context, operation_callback_uri)


@transaction.atomic
def stop_transcription(
    tenant: Tenant,
    call_connection_id: str,
    *,
    operation_context: str = "",
    operation_callback_uri: str = "",
) -> None:
    connection = get_connection(tenant, call_connection_id, lock=True)
    require_active(connection)
    _stop(connection, TRANSCRIPTION, operation_context, operation_callback_uri)


@transaction.atomic
def update_transcription(
    tenant: Tenant,
    call_connection_id: str,
    *,
    locale: str,
    operation_context: str = "",
    operation_callback_uri: str = "",
) -> None:
    """Change a running transcription's locale: TranscriptionUpdated."""
    connection = get_connection(tenant, call_connection_id, lock=True)
    require_active(connection)
    config = connection.transcription
    if config.get("state") != ACTIVE:
        raise BadRequest(
            "Transcription is not running; start it first.", code="TranscriptionNotStarted"
        )
    config.update(locale=locale, context=operation_context, callback=operation_callback_uri)
    _save(connection, TRANSCRIPTION)
    _emit(connection, TRANSCRIPTION, "Updated", "transcriptionUpdated", "subscriptionUpdated")


def _start(connection: CallConnection, field: str, context: str, callback: str) -> None:
    config = getattr(connection, field)
    if not config:
        raise BadRequest(
            f"{_OPTIONS[field]} were not given when the call was created or "
            "answered: there is no WebSocket to send to."
        )
    if config["state"] in (STARTING, ACTIVE):
        raise BadRequest(
            f"{_NAMES[field]} is already started.", code=f"{_NAMES[field]}AlreadyStarted"
        )
    config.update(state=STARTING, context=context, callback=callback)
    _save(connection, field)
    _command(connection, CarrierCommand.Kind.STREAM_START, config["id"], field)


def _stop(connection: CallConnection, field: str, context: str, callback: str) -> None:
    config = getattr(connection, field)
    if config.get("state") not in (STARTING, ACTIVE):
        raise BadRequest(f"{_NAMES[field]} is not started.", code=f"{_NAMES[field]}NotStarted")
    config.update(state=STOPPING, context=context, callback=callback)
    _save(connection, field)
    _command(connection, CarrierCommand.Kind.STREAM_STOP, config["id"], field)


def _save(connection: CallConnection, field: str) -> None:
    CallConnection.unscoped.filter(pk=connection.pk).update(**{field: getattr(connection, field)})


def _command(connection: CallConnection, kind: str, stream: str, field: str) -> None:
    CarrierCommand.unscoped.create(
        tenant_id=connection.tenant_id,
        call_id=connection.call_id,
        kind=kind,
        payload={"stream": stream, "connection": connection.pk, "field": field},
    )


def _emit(
    connection: CallConnection,
    field: str,
    verb: str,
    status: str,
    details: str,
    result: dict | None = None,
) -> None:
    if connection.state == CallConnection.State.DISCONNECTED:
        return
    config = getattr(connection, field)
    if field == STREAMING:
        update = {
            "mediaStreamingUpdate": {
                "contentType": "Audio",
                "mediaStreamingStatus": status,
                "mediaStreamingStatusDetails": details,
            }
        }
    else:
        update = {
            "transcriptionUpdate": {
                "transcriptionStatus": status,
                "transcriptionStatusDetails": details,
            }
        }
    events.emit(
        connection,
        f"{_NAMES[field]}{verb}",
        operation_context=config.get("context", ""),
        callback_uri=config.get("callback") or None,
        result_information=result or events.OK,
        **update,
    )


def apply_stream_event(event: CarrierEvent) -> bool:
    """A stream started, stopped, failed, or a phrase was transcribed (in ingestion's
    transaction)."""
    sid = event.detail["stream"]
    connection = (
        CallConnection.unscoped.select_for_update()
        .select_related("call")
        .filter(Q(media_streaming__id=sid) | Q(transcription__id=sid))
        .first()
    )
    if connection is None:
        return False
    field = STREAMING if connection.media_streaming.get("id") == sid else TRANSCRIPTION
    config = getattr(connection, field)
    prefix = "mediaStreaming" if field == STREAMING else "transcription"
    if event.kind == StreamOutcome.TRANSCRIBED:
        detail = event.detail
        TranscriptLine.unscoped.create(
            tenant_id=connection.tenant_id,
            call_id=connection.call_id,
            raw_id=detail["participant"],
            text=detail["text"][:10000],
            confidence=detail["confidence"],
            offset=detail["offset"],
            duration=detail["duration"],
        )
        return True
    if event.kind == StreamOutcome.STARTED:
        config["state"] = ACTIVE
        _save(connection, field)
        _emit(connection, field, "Started", f"{prefix}Started", "subscriptionStarted")
    elif event.kind == StreamOutcome.STOPPED:
        config["state"] = INACTIVE
        _save(connection, field)
        _emit(connection, field, "Stopped", f"{prefix}Stopped", "subscriptionStopped")
    elif event.kind == StreamOutcome.FAILED:
        config["state"] = INACTIVE
        _save(connection, field)
        message = f"The WebSocket could not be used: {event.detail.get('message', '')}"
        _emit(
            connection,
            field,
            "Failed",
            f"{prefix}Failed",
            "streamConnectionUnsuccessful",
            events.result(500, 8581, message),
        )
    return True


def subscription(connection: CallConnection, field: str) -> dict | None:
    """mediaStreamingSubscription / transcriptionSubscription of CallConnectionProperties."""
    config = getattr(connection, field)
    if not config:
        return None
    state = ACTIVE if config["state"] == ACTIVE else INACTIVE
    if field == STREAMING:
        return {"id": config["id"], "state": state, "subscribedContentTypes": ["audio"]}
    return {
        "id": config["id"],
        "state": state,
        "subscribedResultTypes": ["final"],
        "locale": config.get("locale", "en-US"),
    }
