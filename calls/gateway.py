"""The gateway: runs a carrier driver, executes CarrierCommands, ingests what happens.

`manage.py run_gateway` drives it from an asyncio loop in real time (every database call
goes through sync_to_async, off the loop); tests drive the same object on a virtual
clock with `advance()`, so what the tests exercise is what production runs.

One gateway carries every tenant's calls, so a fault is contained where it happens: a
command the driver fails on fails its own leg, operation or recording (with the ACS
event that says so, and an error in the log), and a carrier event that cannot be
ingested fails only what it was about; the other commands and events go on.
"""

import contextlib
import logging

from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from callauto import outbound
from calls.api.streaming_options import http_twin
from calls.call_verbs import end_call
from calls.gateway_events import EventBatches
from calls.gateway_reads import UNREAD, BatchReads
from calls.ingest import ingest
from calls.models import (
    Call,
    CallConnection,
    CarrierCommand,
    MediaOperation,
    Participant,
    SimulatedCallee,
)
from calls.trunk_fleet import route_of, trunk_of
from carrier.interface import (
    CalleeScript,
    Carrier,
    CarrierEvent,
    Choice,
    Collect,
    Dial,
    KeyPress,
    LegOutcome,
    MediaOutcome,
    Originate,
    Play,
    Record,
    RecordingOutcome,
    Saying,
    SendTones,
    Stream,
    StreamOutcome,
)
from carrier.media import play_sources, tts
from carrier.media.audio import Audio
from carrier.media.dtmf import KEYS
from carrier.media.play_sources import PlaySource, SourceError
from tenants.models import Tenant

log = logging.getLogger(__name__)


class _PlayFailed(Exception):
    def __init__(self, detail: dict) -> None:
        super().__init__(detail.get("message"))
        self.detail = detail


class Gateway(EventBatches):
    def __init__(
        self,
        carrier: Carrier,
        *,
        gateway_id: str = "gateway-1",
        batch: int = 100,
        batch_seconds: float = 0.05,
    ) -> None:
        self.carrier = carrier
        # Stable across restarts of the same gateway, so it can reconcile its own calls.
        self.gateway_id = gateway_id
        self.batch = batch
        # A batch of carrier events commits after this long even if events are left (they
        # go in the next one): API requests wanting a call's row lock wait no longer.
        self.batch_seconds = batch_seconds
        # Carrier events polled but not yet committed (see ingest_events).
        self._unsaved: list[CarrierEvent] = []
        self._one_by_one = False  # after a batch failed to commit

    def step(self) -> int:
        """Run pending commands, then ingest due events; return how much was done."""
        return self.run_commands() + self.ingest_events()

    def run_commands(self) -> int:
        """Carry out up to `batch` pending commands in one transaction.

        A command that reads or writes the database runs in its own savepoint, so its
        failure undoes its own writes only; the others (hang-ups, answers, stops: the
        driver alone) need none, and a DIAL needs none once its callee and route are read
        for the whole batch (two SELECTs) unless it goes out on a SIP trunk. Ownership
        and DONE are one UPDATE each for the batch (issue 15: round trips per call)."""
        with transaction.atomic():
            commands = list(
                CarrierCommand.unscoped.select_for_update(skip_locked=True, of=("self",))
                .filter(state=CarrierCommand.State.PENDING)
                .filter(Q(call__isnull=True) | Q(call__gateway_id__in=["", self.gateway_id]))
                .select_related("participant", "participant__tenant", "tenant")
                .annotate(owner=F("call__gateway_id"))
                .order_by("id")[: self.batch]
            )
            if not commands:
                return 0
            # First commands of new calls: this gateway now owns them.
            new_calls = {c.call_id for c in commands if c.call_id is not None and not c.owner}
            if new_calls:
                Call.unscoped.filter(pk__in=new_calls, gateway_id="").update(
                    gateway_id=self.gateway_id
                )
            read = BatchReads.of(commands)
            done = []
            for command in commands:
                try:
                    if read.needs_savepoint(command):
                        with transaction.atomic():  # a failure undoes its own writes only
                            self._execute(command, read)
                    else:
                        self._execute(command, read)
                except Exception:
                    log.exception(
                        "gateway %s: %s command %s (tenant %s, call %s) failed",
                        self.gateway_id, command.kind, command.pk, command.tenant_id,
                        command.call_id,
                    )  # fmt: skip
                    self._command_failed(command)
                    continue
                done.append(command.pk)
            if done:
                CarrierCommand.unscoped.filter(pk__in=done).update(
                    state=CarrierCommand.State.DONE, done_at=timezone.now()
                )
        return len(commands)

    def _command_failed(self, command: CarrierCommand) -> None:
        """Mark the command failed and fail what it was for, through the ingestion of
        the carrier event a driver would have sent: the leg (CreateCallFailed,
        AddParticipantFailed, AnswerFailed...), the media operation (PlayFailed,
        RecognizeFailed, SendDtmfTonesFailed) or the recording (StartRecordingFailed)."""
        CarrierCommand.unscoped.filter(pk=command.pk).update(
            state=CarrierCommand.State.FAILED, done_at=timezone.now()
        )
        leg = str(command.participant.leg_id) if command.participant else ""
        message = "The media server failed to carry out the request."
        event: CarrierEvent | None = None
        if command.kind in (CarrierCommand.Kind.DIAL, CarrierCommand.Kind.ANSWER):
            # The driver may hold half a leg: let it go (it may fail on that too).
            with contextlib.suppress(Exception):
                self.carrier.hang_up(leg)
            event = CarrierEvent(leg_id=leg, kind=LegOutcome.FAILED)
        elif command.kind == CarrierCommand.Kind.MEDIA_START:
            with contextlib.suppress(Exception):
                self.carrier.stop_media(command.payload["op"])
            detail = {"op": command.payload["op"], "message": message}
            event = CarrierEvent(leg_id=leg, kind=MediaOutcome.FAILED, detail=detail)
        elif command.kind == CarrierCommand.Kind.RECORD_START:
            detail = {"recording": command.payload["recording"], "message": message,
                      "at_start": True}  # fmt: skip
            event = CarrierEvent(leg_id="", kind=RecordingOutcome.FAILED, detail=detail)
        elif command.kind == CarrierCommand.Kind.RECORD_STOP:
            detail = {"recording": command.payload["recording"], "message": message}
            event = CarrierEvent(leg_id="", kind=RecordingOutcome.FAILED, detail=detail)
        elif command.kind == CarrierCommand.Kind.STREAM_START:
            # A driver without streams (SIP, for now) fails here: MediaStreamingFailed.
            detail = {"stream": command.payload["stream"], "message": message}
            event = CarrierEvent(leg_id="", kind=StreamOutcome.FAILED, detail=detail)
        if event is None:
            return  # no ACS event reports this one (a mute, a hang-up): the log does
        try:
            with transaction.atomic():
                ingest(event, gateway_id=self.gateway_id)
        except Exception:
            log.exception("gateway %s: reporting the failure of command %s failed too",
                          self.gateway_id, command.pk)  # fmt: skip

    def _execute(self, command: CarrierCommand, read: BatchReads) -> None:
        participant = command.participant
        leg = str(participant.leg_id) if participant else ""
        if command.kind == CarrierCommand.Kind.DIAL:
            caller_id = command.payload.get("caller_id", "")
            route = read.route(participant, caller_id)
            if trunk_of(route):
                Participant.unscoped.filter(pk=participant.pk).update(trunk_id=trunk_of(route))
            self.carrier.dial(
                Dial(
                    leg_id=leg,
                    to=participant.raw_id,
                    caller_id=caller_id,
                    timeout=float(command.payload.get("timeout", 60)),
                    script=self._script(
                        participant.tenant, participant.raw_id, read.callee(participant)
                    ),
                    call=str(participant.call_id),
                    route=route,
                    custom_context=command.payload.get("custom_context") or {},
                )
            )
        elif command.kind == CarrierCommand.Kind.HANG_UP:
            self.carrier.hang_up(leg)
        elif command.kind == CarrierCommand.Kind.ANSWER:
            self.carrier.answer(leg)
            join = getattr(self.carrier, "join", None)  # a router: mix it with its call
            if join is not None:
                join(leg, str(participant.call_id), participant.raw_id)
        elif command.kind == CarrierCommand.Kind.REJECT:
            self.carrier.reject(leg, int(command.payload.get("sip_code", 603)))
        elif command.kind == CarrierCommand.Kind.ORIGINATE:
            caller = command.payload["caller"]
            self.carrier.originate(
                Originate(
                    leg_id=command.payload["leg_id"],
                    caller=caller,
                    to=command.payload["to"],
                    ring_timeout=float(command.payload.get("ring_timeout", 30)),
                    display_name=command.payload.get("display_name", ""),
                    script=self._script(command.tenant, caller),
                    custom_context=command.payload.get("custom_context") or {},
                )
            )
        elif command.kind == CarrierCommand.Kind.MEDIA_START:
            self._start_media(command.payload["op"], read)
        elif command.kind == CarrierCommand.Kind.MEDIA_STOP:
            self.carrier.stop_media(command.payload["op"])
        elif command.kind == CarrierCommand.Kind.DTMF_LISTEN:
            self.carrier.listen_dtmf(leg, bool(command.payload.get("on")))
        elif command.kind == CarrierCommand.Kind.MUTE:
            self.carrier.set_muted(leg, bool(command.payload.get("muted")))
        elif command.kind == CarrierCommand.Kind.RECORD_START:
            self._start_recording(command)
        elif command.kind == CarrierCommand.Kind.RECORD_PAUSE:
            self.carrier.pause_recording(command.payload["recording"])
        elif command.kind == CarrierCommand.Kind.RECORD_RESUME:
            self.carrier.resume_recording(command.payload["recording"])
        elif command.kind == CarrierCommand.Kind.RECORD_STOP:
            self.carrier.stop_recording(command.payload["recording"])
        elif command.kind == CarrierCommand.Kind.PRESS:
            self.carrier.press(leg, str(command.payload["key"]))
        elif command.kind == CarrierCommand.Kind.CALLEE_ANSWER:
            self.carrier.callee_answer(leg)
        elif command.kind == CarrierCommand.Kind.CALLEE_HANG_UP:
            self.carrier.callee_hang_up(leg)
        elif command.kind == CarrierCommand.Kind.STREAM_START:
            self._start_stream(command)
        elif command.kind == CarrierCommand.Kind.STREAM_STOP:
            self.carrier.stop_stream(command.payload["stream"])

    def _start_stream(self, command: CarrierCommand) -> None:
        """Vet the app's WebSocket URL again (DNS may have changed since it was given) and
        have the carrier stream to the vetted address."""
        payload = command.payload
        connection = CallConnection.unscoped.select_related("call").get(pk=payload["connection"])
        config = getattr(connection, payload["field"])
        try:
            address = str(outbound.vet(http_twin(config["url"])).address)
        except outbound.UnsafeUrl as exc:
            failed = {"stream": payload["stream"], "message": str(exc)}
            ingest(CarrierEvent(leg_id="", kind=StreamOutcome.FAILED, detail=failed))
            return
        # Legs still being invited count: a stream started on create (startMediaStreaming)
        # taps the callee from its answer, on the network that carries it.
        live = (Participant.State.INVITED, Participant.State.CONNECTED)
        legs = Participant.unscoped.filter(
            call_id=command.call_id, state__in=live, leg_id__isnull=False
        ).values_list("leg_id", "raw_id")
        transcribing = payload["field"] == "transcription"
        self.carrier.start_stream(
            Stream(
                stream_id=payload["stream"],
                call=str(command.call_id),
                url=config["url"],
                address=address,
                legs=tuple((str(leg), raw) for leg, raw in legs),
                channel=config.get("channel", "mixed"),
                rate=int(config.get("rate", 16000)),
                bidirectional=bool(config.get("bidirectional")),
                transcription_locale=config.get("locale", "en-US") if transcribing else "",
                call_connection_id=connection.call_connection_id,
                correlation_id=str(connection.call.correlation_id),
            )
        )

    def _start_recording(self, command: CarrierCommand) -> None:
        payload = command.payload
        legs = Participant.unscoped.filter(
            call_id=command.call_id, state=Participant.State.CONNECTED
        )
        app_in_call = (
            CallConnection.unscoped.filter(call_id=command.call_id)
            .exclude(state=CallConnection.State.DISCONNECTED)
            .exists()
        )
        self.carrier.start_recording(
            Record(
                recording_id=payload["recording"],
                call=str(command.call_id),
                legs=tuple((str(leg), raw) for leg, raw in legs.values_list("leg_id", "raw_id")),
                channel_type=payload.get("channel_type", "mixed"),
                format=payload.get("format", "wav"),
                channel_order=tuple(payload.get("channel_order", ())),
                paused=bool(payload.get("paused")),
                conversation=not app_in_call,
            )
        )

    def _start_media(self, op_id: str, read: BatchReads) -> None:
        """Load the operation's audio (speech, files) and hand it to the carrier."""
        op = read.media_operation(op_id)
        if op is None or op.state != MediaOperation.State.RUNNING:
            return  # canceled before the gateway got to it
        legs = read.media_legs(op)
        payload = op.payload
        if not legs:
            # Everyone it was for has left (a race with a hang-up): nothing to play to.
            message = "None of the operation's participants is in the call."
            failed = {"op": op_id, "message": message}
            ingest(CarrierEvent(leg_id="", kind=MediaOutcome.FAILED, detail=failed))
            return
        try:
            if op.kind == MediaOperation.Kind.SEND_DTMF:
                keys = tuple(KEYS[name] for name in payload["tones"])
                self.carrier.send_tones(SendTones(op_id=op_id, leg=legs[0], keys=keys))
                return
            field = "prompts" if op.kind == MediaOperation.Kind.RECOGNIZE else "sources"
            audios = tuple(
                self._load(index, data, op.tenant_id) for index, data in enumerate(payload[field])
            )
        except _PlayFailed as failure:
            ingest(
                CarrierEvent(
                    leg_id=legs[0],
                    kind=MediaOutcome.PLAY_FAILED,
                    detail={"op": op_id, **failure.detail},
                )
            )
            return
        if payload.get("speech") and not getattr(self.carrier, "recognizes_speech", False):
            # The SIP engine collects keys only, for now: say so rather than ignore speech.
            message = "This carrier cannot recognize speech yet."
            detail = {"op": op_id, "reason": "speech_error", "message": message}
            ingest(CarrierEvent(leg_id=legs[0], kind=MediaOutcome.RECOGNIZE_FAILED, detail=detail))
            return
        if op.kind == MediaOperation.Kind.RECOGNIZE:
            self.carrier.collect(
                Collect(
                    op_id=op_id,
                    leg=legs[0],
                    prompts=audios,
                    interrupt_prompt=payload["interrupt_prompt"],
                    initial_silence=float(payload["initial_silence"]),
                    inter_tone=float(payload["inter_tone"]),
                    max_tones=int(payload["max_tones"]),
                    stop_tones=frozenset(KEYS[name] for name in payload["stop_tones"]),
                    speech=payload.get("speech", ""),
                    choices=tuple(
                        Choice(c["label"], tuple(c["phrases"]), KEYS.get(c.get("tone") or "", ""))
                        for c in payload.get("choices", ())
                    ),
                    end_silence=float(payload.get("end_silence", 0.5)),
                )
            )
        else:
            self.carrier.play(Play(op_id=op_id, legs=legs, audios=audios, loop=payload["loop"]))

    @staticmethod
    def _load(index: int, data: dict, tenant_id: int) -> Audio:
        try:
            # The operation's tenant: play caches are per tenant.
            return play_sources.load(PlaySource.from_payload(data), tenant_id=tenant_id)
        except SourceError as exc:
            raise _PlayFailed(
                {"index": index, "sub_code": exc.sub_code, "message": exc.message}
            ) from exc

    @staticmethod
    def _script(
        tenant: Tenant, raw_id: str, callee: SimulatedCallee | None = UNREAD
    ) -> CalleeScript | None:
        if callee is UNREAD:
            callee = SimulatedCallee.objects.for_tenant(tenant).filter(raw_id=raw_id).first()
        if callee is None:
            return None
        return CalleeScript(
            outcome=callee.outcome,
            answer_after=callee.answer_after,
            hang_up_after=callee.hang_up_after,
            keys=tuple(
                KeyPress(float(press[0]), str(press[1]), *press[2:3]) for press in callee.keys
            ),
            says=tuple(
                # Rendered now, when the leg is dialled (cached per tenant like prompts).
                Saying(float(at), text, tts.render(text, scope=f"tenant-{tenant.pk}"), *anchor)
                for at, text, *anchor in callee.says
            ),
        )

    def _bye_lost_dialogs(self, orphaned: QuerySet[Participant]) -> None:
        """SIP legs of a previous run are still up at the far end: BYE them (from the
        dialog each kept), so no phone stays in a call nobody carries."""
        bye = getattr(self.carrier, "bye_dialogs", None)
        if bye is None:
            return
        lost = orphaned.filter(trunk__isnull=False, sip_dialog__isnull=False)
        for trunk_id, dialog in lost.values_list("trunk_id", "sip_dialog"):
            try:
                bye(route_of(trunk_id), [dialog])
            except Exception:
                log.exception("gateway %s: BYE of a lost dialog on trunk %s failed",
                              self.gateway_id, trunk_id)  # fmt: skip

    def reconcile(self) -> int:
        """After a restart: end this gateway's calls whose legs its driver no longer carries."""
        live = self.carrier.live_legs()
        orphaned = Participant.unscoped.filter(
            call__gateway_id=self.gateway_id,
            state__in=[Participant.State.INVITED, Participant.State.CONNECTED],
        ).exclude(leg_id__in=list(live))
        self._bye_lost_dialogs(orphaned)
        ended = 0
        for call_id in set(orphaned.values_list("call_id", flat=True)):
            with transaction.atomic():
                call = Call.unscoped.select_for_update(no_key=True).get(pk=call_id)
                if call.state != Call.State.DISCONNECTED:
                    end_call(
                        call,
                        code=500,
                        sub_code=0,
                        message="The gateway restarted and could not resume the call.",
                    )
                    ended += 1
        if ended:
            log.warning("reconcile: ended %d call(s) the gateway no longer carried", ended)
        return ended
