"""Media verbs: play, recognize (DTMF, speech, choices), send DTMF, continuous DTMF, hold, cancel.

Each request becomes a MediaOperation. ACS runs one media operation at a time per
participant: a new one waits (QUEUED) behind a running one that shares a target, unless
it asks to interrupt, which cancels what runs (with PlayCanceled / RecognizeCanceled).
Starting an operation writes a MEDIA_START command; the gateway loads the audio and the
carrier reports back through `apply_media_event`. When the people an operation is for
leave (removed, hung up), it is canceled; when the app leaves, its operations stop.
"""

from django.db import transaction
from django.utils import timezone

from callauto.errors import BadRequest
from calls import events
from calls.identifiers import Identifier
from calls.lookups import find_participant, get_connection, require_active
from calls.models import CallConnection, CarrierCommand, MediaOperation, Participant
from calls.transitions import transition
from calls.verb_atomic import atomic_verb
from carrier.interface import CarrierEvent, MediaOutcome
from carrier.media.dtmf import TONE_NAMES
from carrier.media.play_sources import PlaySource
from tenants.models import Tenant

Op = MediaOperation
S = MediaOperation.State
LIVE = [S.QUEUED, S.RUNNING]

# Result codes (ACS-WIRE.md §5.2).
RECOGNIZED_SUBCODES = {"max_tones": 8531, "stop_tone": 8514, "inter_tone_timeout": 8532}
CANCELED = events.result(400, 8508, "Action failed, the operation was canceled.")
# An operation the media server could not carry out (ACS: 500 with the "unspecified" code).
FAILED_EVENTS = {
    Op.Kind.PLAY: "PlayFailed",
    Op.Kind.RECOGNIZE: "RecognizeFailed",
    Op.Kind.SEND_DTMF: "SendDtmfTonesFailed",
    Op.Kind.HOLD_MUSIC: "HoldFailed",
}


def _targets(connection: CallConnection, identifiers: list[Identifier]) -> list[str]:
    return [find_participant(connection, ident).raw_id for ident in identifiers]


def _command(op: MediaOperation, kind: str, **payload: object) -> None:
    CarrierCommand.unscoped.create(
        tenant_id=op.tenant_id,
        call_id=op.call_id,
        kind=kind,
        payload={"op": str(op.op_id), **payload},
    )


def _new_operation(
    connection: CallConnection,
    kind: str,
    *,
    targets: list[str],
    payload: dict,
    interrupt: bool,
    operation_context: str = "",
    operation_callback_uri: str = "",
) -> MediaOperation:
    op = Op(
        tenant_id=connection.tenant_id,
        call_id=connection.call_id,
        connection=connection,
        kind=kind,
        targets=targets,
        payload=payload,
        operation_context=operation_context,
        operation_callback_uri=operation_callback_uri,
    )
    live = Op.unscoped.filter(call_id=op.call_id, state__in=LIVE).order_by("pk")
    if interrupt:
        live = live.select_for_update()
    others = []
    for other in live:
        if interrupt and other.overlaps(op):
            cancel(other)
        else:
            others.append(other)
    if any(other.state == S.QUEUED for other in others):
        # Operations wait already: `schedule` decides, in request order, what starts.
        op.save(force_insert=True)
        schedule(connection.call_id)
        op.refresh_from_db()
        return op
    # Nothing waits, so `schedule` would start this one unless a running one blocks it:
    # decide before the INSERT (one statement, and no read back of what was written).
    if not any(op.overlaps(other) for other in others):
        op.state, op.started_at = S.RUNNING, timezone.now()
    op.save(force_insert=True)
    if op.state == S.RUNNING:
        _command(op, CarrierCommand.Kind.MEDIA_START)
    return op


def schedule(call_id: int) -> None:
    """Start, in request order, each queued operation that no running one blocks."""
    running = list(Op.unscoped.filter(call_id=call_id, state=S.RUNNING))
    for op in (
        Op.unscoped.select_for_update().filter(call_id=call_id, state=S.QUEUED).order_by("pk")
    ):
        if any(op.overlaps(other) for other in running):
            continue
        transition(op, S.RUNNING, started_at=timezone.now())
        _command(op, CarrierCommand.Kind.MEDIA_START)
        running.append(op)


def cancel(op: MediaOperation, *, notify: bool = True) -> None:
    """Stop a queued or running operation; the app hears PlayCanceled / RecognizeCanceled."""
    was_running = op.state == S.RUNNING
    transition(op, S.CANCELED, ended_at=timezone.now())
    if was_running:
        _command(op, CarrierCommand.Kind.MEDIA_STOP)
    if not notify:
        return
    name = {
        Op.Kind.PLAY: "PlayCanceled",
        Op.Kind.RECOGNIZE: "RecognizeCanceled",
        Op.Kind.SEND_DTMF: "SendDtmfTonesFailed",
    }.get(op.kind)
    if name:
        _emit(op, name, result_information=CANCELED)


def cancel_for_call(call_id: int) -> None:
    """The call ended: its media stops, with no events (CallDisconnected says it all)."""
    for op in Op.unscoped.select_for_update().filter(call_id=call_id, state__in=LIVE):
        cancel(op, notify=False)


def cancel_for_participant(participant: Participant) -> None:
    """`participant` left the call (removed or hung up): cancel, with their events
    (PlayCanceled, RecognizeCanceled, SendDtmfTonesFailed), the queued and running
    operations that were for them and nobody else still in the call, then start what
    waited behind them. Operations for everyone go on for those who stay.

    The caller holds the transaction and has already moved `participant` out of
    CONNECTED.
    """
    staying = set(
        Participant.unscoped.filter(
            call_id=participant.call_id, state=Participant.State.CONNECTED
        ).values_list("raw_id", flat=True)
    )
    ops = Op.unscoped.select_for_update().filter(call_id=participant.call_id, state__in=LIVE)
    for op in ops.order_by("pk"):
        if participant.raw_id in op.targets and not staying & set(op.targets):
            cancel(op)
    schedule(participant.call_id)


def cancel_for_connection(connection: CallConnection) -> None:
    """The app left the call: the operations it asked for stop, silently (it hears no
    more events of this call)."""
    ops = Op.unscoped.select_for_update().filter(connection=connection, state__in=LIVE)
    for op in ops.order_by("pk"):
        cancel(op, notify=False)
    schedule(connection.call_id)


def _emit(op: MediaOperation, event_type: str, **data: object) -> None:
    connection = CallConnection.unscoped.select_related("call").get(pk=op.connection_id)
    if connection.state == CallConnection.State.DISCONNECTED:
        return
    events.emit(
        connection,
        event_type,
        operation_context=op.operation_context,
        callback_uri=op.operation_callback_uri or None,
        **data,
    )


# --- verbs ----------------------------------------------------------------------------


@atomic_verb
def play(
    tenant: Tenant,
    call_connection_id: str,
    *,
    sources: list[PlaySource],
    play_to: list[Identifier],
    loop: bool = False,
    interrupt: bool = False,
    operation_context: str = "",
    operation_callback_uri: str = "",
) -> MediaOperation:
    """Play the sources in order to `play_to` (everyone when empty).
    Raises BadRequest for no sources or a target not in the call."""
    connection = get_connection(tenant, call_connection_id, lock=True)
    require_active(connection)
    if not sources:
        raise BadRequest("playSources must hold at least one source.")
    return _new_operation(
        connection,
        Op.Kind.PLAY,
        targets=_targets(connection, play_to),
        payload={"sources": [s.to_payload() for s in sources], "loop": loop},
        interrupt=interrupt,
        operation_context=operation_context,
        operation_callback_uri=operation_callback_uri,
    )


@atomic_verb
def recognize(
    tenant: Tenant,
    call_connection_id: str,
    *,
    target: Identifier,
    prompts: list[PlaySource],
    input_type: str = "dtmf",
    interrupt_prompt: bool = False,
    initial_silence: float = 5,
    inter_tone: float = 2,
    max_tones: int = 1,
    stop_tones: list[str] | None = None,
    choices: list[dict] | None = None,
    end_silence: float = 0.5,
    interrupt: bool = False,
    operation_context: str = "",
    operation_callback_uri: str = "",
) -> MediaOperation:
    """Play the prompts to `target` and recognize what it answers: keys (`input_type`
    "dtmf"), speech ("speech"), either ("speechOrDtmf") or one of `choices` ({label,
    phrases, tone}) said or pressed ("choices"). RecognizeCompleted carries the result;
    RecognizeFailed says why there is none. Raises BadRequest if `target` is not in the
    call."""
    connection = get_connection(tenant, call_connection_id, lock=True)
    require_active(connection)
    payload = {
        "prompts": [p.to_payload() for p in prompts],
        "interrupt_prompt": interrupt_prompt,
        "initial_silence": initial_silence,
        "inter_tone": inter_tone,
        "max_tones": max_tones,
        "stop_tones": stop_tones or [],
        "speech": "" if input_type == "dtmf" else input_type,
        "choices": choices or [],
        "end_silence": end_silence,
    }
    return _new_operation(
        connection,
        Op.Kind.RECOGNIZE,
        targets=_targets(connection, [target]),
        payload=payload,
        interrupt=interrupt,
        operation_context=operation_context,
        operation_callback_uri=operation_callback_uri,
    )


def recognize_dtmf(tenant: Tenant, call_connection_id: str, **options: object) -> MediaOperation:
    """`recognize` for keys only (RecognizeCompleted with the tones, or RecognizeFailed on
    initial silence)."""
    return recognize(tenant, call_connection_id, input_type="dtmf", **options)  # type: ignore[arg-type]


@atomic_verb
def send_dtmf(
    tenant: Tenant,
    call_connection_id: str,
    *,
    tones: list[str],
    target: Identifier,
    operation_context: str = "",
    operation_callback_uri: str = "",
) -> MediaOperation:
    """Send DTMF tones (names such as "one", "pound") to `target`: SendDtmfTonesCompleted."""
    connection = get_connection(tenant, call_connection_id, lock=True)
    require_active(connection)
    return _new_operation(
        connection,
        Op.Kind.SEND_DTMF,
        targets=_targets(connection, [target]),
        payload={"tones": tones},
        interrupt=False,
        operation_context=operation_context,
        operation_callback_uri=operation_callback_uri,
    )


@transaction.atomic
def cancel_all_media(tenant: Tenant, call_connection_id: str) -> int:
    """Cancel every queued and running play and recognize of the call."""
    connection = get_connection(tenant, call_connection_id, lock=True)
    require_active(connection)
    ops = Op.unscoped.select_for_update().filter(
        call_id=connection.call_id, state__in=LIVE, kind__in=[Op.Kind.PLAY, Op.Kind.RECOGNIZE]
    )
    count = 0
    for op in ops.order_by("pk"):
        cancel(op)
        count += 1
    return count


@transaction.atomic
def set_continuous_dtmf(
    tenant: Tenant,
    call_connection_id: str,
    *,
    target: Identifier,
    on: bool,
    operation_context: str = "",
    operation_callback_uri: str = "",
) -> None:
    """Start or stop reporting every key `target` presses
    (ContinuousDtmfRecognitionToneReceived; ContinuousDtmfRecognitionStopped on stop)."""
    connection = get_connection(tenant, call_connection_id, lock=True)
    require_active(connection)
    participant = find_participant(connection, target)
    Participant.unscoped.filter(pk=participant.pk).update(dtmf_listening=on)
    CarrierCommand.unscoped.create(
        tenant=tenant,
        call_id=connection.call_id,
        participant=participant,
        kind=CarrierCommand.Kind.DTMF_LISTEN,
        payload={"on": on},
    )
    if not on:
        events.emit(
            connection,
            "ContinuousDtmfRecognitionStopped",
            operation_context=operation_context,
            callback_uri=operation_callback_uri or None,
            result_information=events.OK,
        )


@transaction.atomic
def set_hold(
    tenant: Tenant,
    call_connection_id: str,
    *,
    target: Identifier,
    on: bool,
    music: PlaySource | None = None,
    operation_context: str = "",
    operation_callback_uri: str = "",
) -> None:
    """Put `target` on hold (optionally with looping music) or take them off it."""
    connection = get_connection(tenant, call_connection_id, lock=True)
    require_active(connection)
    participant = find_participant(connection, target)
    for op in Op.unscoped.select_for_update().filter(
        call_id=connection.call_id,
        state__in=LIVE,
        kind=Op.Kind.HOLD_MUSIC,
        targets=[participant.raw_id],
    ):
        cancel(op, notify=False)
    if on and music is not None:
        _new_operation(
            connection,
            Op.Kind.HOLD_MUSIC,
            targets=[participant.raw_id],
            payload={"sources": [music.to_payload()], "loop": True},
            interrupt=True,
            operation_context=operation_context,
            operation_callback_uri=operation_callback_uri,
        )
    if participant.is_on_hold != on:
        Participant.unscoped.filter(pk=participant.pk).update(is_on_hold=on)
        events.emit_participants_updated(connection.call)


# --- what the carrier reports ---------------------------------------------------------


def apply_media_event(event: CarrierEvent) -> bool:
    """Turn a media outcome into the operation's end state and its ACS event.

    Runs inside ingestion's transaction. Outcomes for operations no longer running
    (canceled meanwhile) are ignored.
    """
    op = Op.unscoped.select_for_update().filter(op_id=event.detail["op"]).first()
    if op is None or op.state != S.RUNNING:
        return False
    kind, detail = event.kind, event.detail
    if kind == MediaOutcome.PLAY_STARTED:
        if op.kind == Op.Kind.PLAY:
            _emit(op, "PlayStarted", result_information=events.OK)
        return True
    if kind == MediaOutcome.PLAY_FINISHED:
        _end(op, S.COMPLETED)
        if op.kind == Op.Kind.PLAY:
            _emit(op, "PlayCompleted", result_information=events.OK)
    elif kind == MediaOutcome.PLAY_FAILED:
        _end(op, S.FAILED, detail)
        info = events.result(400, detail.get("sub_code", 9999), detail.get("message", ""))
        if op.kind == Op.Kind.RECOGNIZE:
            info = events.result(400, 8511, f"Playing the prompt failed: {detail.get('message')}")
            _emit(
                op,
                "RecognizeFailed",
                result_information=info,
                failedPlaySourceIndex=detail.get("index", 0),
            )
        elif op.kind == Op.Kind.PLAY:
            _emit(
                op,
                "PlayFailed",
                result_information=info,
                failedPlaySourceIndex=detail.get("index", 0),
            )
    elif kind == MediaOutcome.RECOGNIZED and detail.get("recognition") in ("speech", "choices"):
        _speech_recognized(op, detail)
    elif kind == MediaOutcome.RECOGNIZED:
        tones = [TONE_NAMES[key] for key in detail["tones"]]
        _end(op, S.COMPLETED, {"tones": tones, "reason": detail["reason"]})
        sub_code = RECOGNIZED_SUBCODES[detail["reason"]]
        _emit(
            op,
            "RecognizeCompleted",
            recognitionType="dtmf",
            dtmfResult={"tones": tones},
            result_information=events.result(200, sub_code, _RECOGNIZED_MESSAGES[sub_code]),
        )
    elif kind == MediaOutcome.RECOGNIZE_FAILED:
        _end(op, S.FAILED, detail)
        code, sub_code, message = _RECOGNIZE_FAILURES[detail.get("reason", "initial_silence")]
        if detail.get("message"):
            message = f"{message} {detail['message']}"
        _emit(op, "RecognizeFailed", result_information=events.result(code, sub_code, message))
    elif kind == MediaOutcome.TONES_SENT:
        _end(op, S.COMPLETED)
        _emit(op, "SendDtmfTonesCompleted", result_information=events.OK)
    elif kind == MediaOutcome.FAILED:
        message = str(detail.get("message") or "The operation could not be carried out.")
        _end(op, S.FAILED, {"message": message})
        _emit(op, FAILED_EVENTS[op.kind], result_information=events.result(500, 9999, message))
    schedule(op.call_id)
    return True


_RECOGNIZED_MESSAGES = {
    8531: "Action completed, max digits received.",
    8514: "Action completed, stop tone detected.",
    8532: "Action completed, inter-digit silence timeout reached.",
}


# RecognizeFailed by reason: (code, subCode, message) as ACS reports them.
_RECOGNIZE_FAILURES = {
    "initial_silence": (400, 8510, "Action failed, initial silence timeout reached."),
    "no_match": (400, 8547, "Action failed, speech option not matched."),
    "incorrect_tone": (400, 8534, "Action failed, incorrect tone entered."),
    "not_recognized": (400, 8563, "Action failed, speech could not be recognized."),
    "speech_error": (500, 8564, "Action failed, the speech service could not be used."),
}


def _speech_recognized(op: MediaOperation, detail: dict) -> None:
    """RecognizeCompleted for speech (the transcript) or a choice (said or pressed)."""
    confidence = round(float(detail.get("confidence", 0.0)), 4)
    if detail["recognition"] == "speech":
        _end(op, S.COMPLETED, {"speech": detail["text"], "confidence": confidence})
        _emit(
            op,
            "RecognizeCompleted",
            recognitionType="speech",
            speechResult={"speech": detail["text"], "confidence": confidence},
            result_information=events.result(200, 0, "Action completed, speech recognized."),
        )
        return
    result = {"label": detail["label"], "confidence": confidence}
    if detail.get("text"):
        result["recognizedPhrase"] = detail["text"]
    _end(op, S.COMPLETED, result)
    by_tone = detail.get("reason") == "tone_matched"
    info = (
        events.result(200, 8533, "Action completed, DTMF option matched.")
        if by_tone
        else events.result(200, 8545, "Action completed, speech option matched.")
    )
    _emit(op, "RecognizeCompleted", recognitionType="choices", choiceResult=result,
          result_information=info)  # fmt: skip


def _end(op: MediaOperation, state: str, result: dict | None = None) -> None:
    transition(op, state, ended_at=timezone.now(), result=result)


def report_tone(participant: Participant, key: str) -> None:
    """Continuous DTMF: tell every connection in the call which key was pressed."""
    if not participant.dtmf_listening:
        return
    Participant.unscoped.filter(pk=participant.pk).update(
        dtmf_sequence=participant.dtmf_sequence + 1
    )
    live = CallConnection.unscoped.select_related("call").filter(
        call_id=participant.call_id, state=CallConnection.State.CONNECTED
    )
    for connection in live:
        events.emit(
            connection,
            "ContinuousDtmfRecognitionToneReceived",
            tone=TONE_NAMES[key],
            sequenceId=participant.dtmf_sequence + 1,
            targetParticipant=participant.identifier.to_wire(),
            result_information=events.OK,
        )
