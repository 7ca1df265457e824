"""The SIP carrier's legs on the SIP loop: dialling, answering, ending, SDP, hold, and
the user agent's listener callbacks that turn SIP into CarrierEvents.

A mixin of SipCarrier (driver.py), split out to keep each module readable; everything
here runs on the SIP loop thread, never in the gateway's worker thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from carrier.interface import CarrierEvent, Dial, LegOutcome
from carrier.media.audio import Audio
from carrier.sip import sdp
from carrier.sip.config import TrunkConfig
from carrier.sip.engine import MediaEngine
from carrier.sip.message import Uri
from carrier.sip.session import SipCall
from carrier.sip.stream import RtpStream
from carrier.sip.ua import UserAgent

# Seconds after a leg ends before its CLOSED report (its trace complete by then).
CLOSE_REPORT_DELAY = 1.0


def outcome_for(status: int) -> str:
    """The leg outcome a final SIP status means (the engine maps it to ACS results)."""
    if status in (486, 600):
        return LegOutcome.BUSY
    if status in (408, 480, 487):
        return LegOutcome.NO_ANSWER
    if status == 603:
        return LegOutcome.REJECTED
    return LegOutcome.FAILED  # 404/484 (not found), 403, 5xx, ... (detail: sip_code)


@dataclass
class _Leg:
    leg_id: str
    stream: RtpStream
    outbound: bool
    group: str
    who: str
    call: SipCall | None = None
    ready: asyncio.Task | None = None
    ring_timer: asyncio.TimerHandle | None = None
    holding: bool = False  # we put the peer on hold
    held: bool = False  # the peer put us on hold
    codec: int | None = None
    te_pt: int | None = None
    ended: bool = False


class LegControl:
    """Mixed into SipCarrier, which provides these."""

    config: TrunkConfig
    engine: MediaEngine
    ua: UserAgent
    _legs: dict[str, _Leg]
    _live: set[str]
    _lock: Any
    _emit: Callable[[CarrierEvent], None]
    _tasks: set[asyncio.Task]
    runtime: Any  # carrier.sip.runtime.SipRuntime

    # --- on the SIP loop ---
    def _spawn(self, coroutine: Any) -> asyncio.Task:
        """A task of this trunk: the loop is shared with other trunks, so closing this one
        cancels only its own tasks."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _new_leg(self, leg_id: str, outbound: bool, group: str, who: str) -> _Leg:
        stream = RtpStream(lambda key, source, ms: self.engine.digit(leg_id, key, source, ms))
        leg = _Leg(leg_id, stream, outbound, group or leg_id, who or leg_id)
        leg.ready = self._spawn(
            stream.open(self.config.bind_host, self.config.rtp_port_min, self.config.rtp_port_max)
        )
        self._legs[leg_id] = leg
        self.runtime.own(leg_id, self._emit)  # the shared engine's events about it: ours
        with self._lock:
            self._live.add(leg_id)
        return leg

    def _dial(self, command: Dial) -> None:
        if self.ua.live_calls() >= self.config.max_calls:
            self._emit(
                CarrierEvent(
                    command.leg_id,
                    LegOutcome.FAILED,
                    {"sip_code": 503, "reason": "Too many calls on this trunk"},
                )
            )
            return
        leg = self._new_leg(command.leg_id, True, command.call, command.to)
        self._spawn(self._invite(leg, command))

    async def _invite(self, leg: _Leg, command: Dial) -> None:
        try:
            await leg.ready
        except OSError as exc:
            self._finish(leg, LegOutcome.FAILED, 503, f"no RTP port: {exc}")
            return
        if leg.ended:
            return
        body = self._sdp(leg, self.config.payload_types, offer=True)
        # A SIP URI goes straight to its host (a lab peer, a PBX); anything else is a
        # number for the trunk.
        direct = Uri.parse(command.to) if command.to.startswith(("sip:", "sips:")) else None
        user = direct.user if direct else _user(command.to, self.config.strip_plus)
        caller = _user(
            command.caller_id or self.config.default_caller_id or "anonymous",
            self.config.strip_plus,
        )
        sip_headers = command.custom_context.get("sipHeaders") or {}
        leg.call = self.ua.invite(leg.leg_id, user, caller, body, uri=direct, headers=sip_headers)
        leg.ring_timer = asyncio.get_running_loop().call_later(
            command.timeout, self._ring_timeout, leg
        )

    def _ring_timeout(self, leg: _Leg) -> None:
        if leg.ended or leg.call is None or leg.call.state not in ("calling", "early"):
            return
        if leg.outbound and leg.call.provisional:
            self.ua.cancel(leg.call, "timeout")  # NO_ANSWER follows on the 487
            return
        # Inbound: the caller rang too long. Outbound with no response at all: give up.
        if leg.outbound:
            self.ua.cancel(leg.call, "hang_up")
        else:
            self.ua.reject(leg.call, 480)
        self._finish(leg, LegOutcome.NO_ANSWER, 408, "Request Timeout: nobody answered")

    def _answer(self, leg_id: str) -> None:
        leg = self._legs.get(leg_id)
        if leg is None or leg.outbound or leg.call is None:
            return
        self._spawn(self._answer_when_ready(leg))

    async def _answer_when_ready(self, leg: _Leg) -> None:
        await leg.ready
        if leg.ended or leg.call is None or leg.call.state != "early":
            return
        if leg.ring_timer:
            leg.ring_timer.cancel()
        self.ua.answer(leg.call, self._sdp(leg, [leg.codec], offer=False))
        self._media_up(leg)
        self._emit(self._answered_event(leg))

    def _reject(self, leg_id: str, status: int) -> None:
        leg = self._legs.get(leg_id)
        if leg is None or leg.call is None:
            return
        if leg.outbound:
            self._end(leg, notify=False)
            return
        self.ua.reject(leg.call, status)
        self._finish(leg, None, status, "rejected")

    def _end(self, leg: _Leg, *, notify: bool) -> None:
        """Our side ends the leg: BYE, CANCEL or 503/480 as its state needs."""
        call = leg.call
        if call is not None:
            if call.state == "confirmed":
                self.ua.bye(call)
            elif call.outbound and call.state in ("calling", "early"):
                self.ua.cancel(call, "hang_up")
            elif not call.outbound and call.state == "early":
                self.ua.reject(call, 480)
        self._finish(leg, LegOutcome.HUNG_UP if notify else None, 200, "ended by us")

    def _finish(self, leg: _Leg, outcome: str | None, status: int, reason: str) -> None:
        """Forget the leg; report `outcome` unless None (our own hang-up reports nothing)."""
        if leg.ended:
            return
        leg.ended = True
        if leg.ring_timer:
            leg.ring_timer.cancel()
        self._legs.pop(leg.leg_id, None)
        with self._lock:
            self._live.discard(leg.leg_id)
        if outcome is not None:
            detail: dict[str, Any] = {
                "sip_code": status,
                "reason": reason,
                "quality": leg.stream.quality.figures(),
            }
            if leg.call is not None:
                detail["sip_trace"] = self.ua.trace.entries(leg.call.call_id)
            self._emit(CarrierEvent(leg.leg_id, outcome, detail))
        self.engine.remove_leg(leg.leg_id)  # after the event: recordings end with the call
        leg.stream.close()
        if leg.call is not None:
            # The last word comes a moment later (the 200 to a BYE, a 487 after CANCEL),
            # and a leg we ended ourselves reported nothing: CLOSED carries it all.
            asyncio.get_running_loop().call_later(CLOSE_REPORT_DELAY, self._closed, leg, status)

    def _closed(self, leg: _Leg, status: int) -> None:
        call_id = leg.call.call_id
        detail = {
            "sip_code": leg.call.final_status or status,
            "quality": leg.stream.quality.figures(),
            "sip_trace": self.ua.trace.entries(call_id),
        }
        self.ua.trace.forget(call_id)
        self._emit(CarrierEvent(leg.leg_id, LegOutcome.CLOSED, detail))
        self.runtime.disown(self._emit, leg.leg_id)  # its last event

    def _join(self, leg_id: str, call: str, who: str) -> None:
        # The gateway joins an incoming leg right after answering it, before its media is
        # up (the 200 waits for the RTP ports): keep the call on the leg too, or media
        # would come up in the leg's own group and hear nobody (a redirected caller).
        leg = self._legs.get(leg_id)
        if leg is not None:
            leg.group, leg.who = call, who or leg.who
        self.engine.join(leg_id, call, who)

    def _media_up(self, leg: _Leg) -> None:
        leg.stream.send_enabled = not leg.held
        self.engine.add_leg(leg.leg_id, leg.stream, call=leg.group, who=leg.who)

    def _apply(self, leg: _Leg, session: sdp.Session, *, answer: bool) -> None:
        """Use the peer's SDP: where to send, which codec, telephone-event, direction."""
        stream = leg.stream
        if answer:
            leg.codec = session.codec
        elif leg.codec is None or leg.codec not in session.payload_types:
            leg.codec = sdp.answer_codec(session, self.config.payload_types)
        stream.pt = leg.codec
        leg.te_pt = session.te_pt if self.config.telephone_event else None
        stream.te_pt = leg.te_pt
        stream.set_remote(session.address, session.port, session.rtcp_port)
        # Whether offer or answer: the peer takes audio only when it says sendrecv/recvonly.
        leg.held = session.direction in ("sendonly", "inactive")
        stream.send_enabled = not leg.held

    def _sdp(self, leg: _Leg, codecs: list[int], *, offer: bool, direction: str = "") -> bytes:
        te = (leg.te_pt or sdp.DEFAULT_TE_PT) if self.config.telephone_event else None
        if not offer:
            te = leg.te_pt
        return sdp.build(
            address=self.config.contact_host,
            port=leg.stream.local_port,
            payload_types=codecs,
            te_pt=te,
            direction=direction or ("sendonly" if leg.holding else "sendrecv"),
        )

    def _hold(self, leg_id: str, on: bool, music: Audio | None) -> None:
        leg = self._legs.get(leg_id)
        if leg is None or leg.call is None:
            return
        leg.holding = on
        self.engine.hold_music(leg_id, music if on else None)
        self.ua.reinvite(leg.call, self._sdp(leg, [leg.codec], offer=True))

    def _snapshot(self, leg: _Leg) -> dict[str, Any] | None:
        """What a BYE for the leg's dialog needs, should this process lose it."""
        dialog = leg.call.dialog if leg.call else None
        if dialog is None or leg.call.state != "confirmed":
            return None
        return {
            "leg_id": leg.leg_id,
            "call_id": dialog.call_id,
            "local": str(dialog.local),
            "remote": str(dialog.remote),
            "target": str(dialog.remote_target),
            "routes": dialog.route_set,
            "cseq": dialog.local_cseq,
        }

    def _answered_event(self, leg: _Leg) -> CarrierEvent:
        detail = {"voicemail": False, "sip_code": 200}
        snapshot = self._snapshot(leg)
        if snapshot is not None:
            detail["dialog"] = snapshot
        return CarrierEvent(leg.leg_id, LegOutcome.ANSWERED, detail)

    def _bye_snapshots(self, snapshots: list[dict[str, Any]]) -> None:
        from carrier.sip.dialog import Dialog
        from carrier.sip.message import NameAddr

        for snap in snapshots:
            dialog = Dialog(
                snap["call_id"],
                NameAddr.parse(snap["local"]),
                NameAddr.parse(snap["remote"]),
                Uri.parse(snap["target"]),
                list(snap.get("routes", [])),
                int(snap.get("cseq", 1)) + 10,
            )
            bye = self.ua._in_dialog(dialog, "BYE")
            self.ua.layer.request(bye, dialog.next_hop(), lambda _r: None)

    # --- the user agent's listener ---
    def incoming(self, call: SipCall, offer: sdp.Session) -> None:
        leg = self._new_leg(call.leg_id, False, "", "")
        leg.call = call
        self._apply(leg, offer, answer=False)
        caller, to = call.invite.addr("From"), call.invite.addr("To")
        number = _e164(to.uri.user or call.invite.uri, self.config.inbound_prefix)
        request_user = _request_user(call.invite.uri)
        if request_user:
            number = _e164(request_user, self.config.inbound_prefix)
        leg.who = "4:" + _e164(caller.uri.user, self.config.inbound_prefix)
        leg.ring_timer = asyncio.get_running_loop().call_later(
            self.config.ring_timeout, self._ring_timeout, leg
        )
        self._emit(
            CarrierEvent(
                call.leg_id,
                LegOutcome.INCOMING,
                {
                    "from": leg.who,
                    "to": number,
                    "display_name": caller.display,
                    "sip_from": str(caller.uri),
                    "sip_to": str(to.uri),
                    "call_id": call.call_id,
                },
            )
        )

    def progress(self, call: SipCall, status: int, session: sdp.Session | None) -> None:
        leg = self._legs.get(call.leg_id)
        if leg is not None and session is not None:
            self._apply(leg, session, answer=True)  # early media: we listen, not talk
            leg.stream.send_enabled = False

    def answered(self, call: SipCall, session: sdp.Session | None) -> None:
        leg = self._legs.get(call.leg_id)
        if leg is None or leg.ended:
            self.ua.bye(call)
            return
        if leg.ring_timer:
            leg.ring_timer.cancel()
        if session is not None:
            self._apply(leg, session, answer=True)
        self._media_up(leg)
        self._emit(self._answered_event(leg))

    def failed(self, call: SipCall, status: int, reason: str) -> None:
        leg = self._legs.get(call.leg_id)
        if leg is None:
            return
        outcome = outcome_for(status) if leg.outbound else LegOutcome.NO_ANSWER
        self._finish(leg, outcome, status, reason)

    def ended(self, call: SipCall, reason: str, status: int) -> None:
        leg = self._legs.get(call.leg_id)
        if leg is not None:
            self._finish(leg, LegOutcome.HUNG_UP, status, reason)

    def reoffer(self, call: SipCall, offer: sdp.Session | None) -> bytes:
        leg = self._legs[call.leg_id]
        if offer is None:
            return self._sdp(leg, [leg.codec], offer=True)
        self._apply(leg, offer, answer=False)
        mine = "sendonly" if leg.holding else "sendrecv"
        theirs = sdp.ANSWER_DIRECTION[offer.direction]
        direction = (
            theirs if mine == "sendrecv" else ("sendonly" if theirs == "sendrecv" else "inactive")
        )
        return self._sdp(leg, [leg.codec], offer=False, direction=direction)

    def reanswered(self, call: SipCall, session: sdp.Session) -> None:
        leg = self._legs.get(call.leg_id)
        if leg is not None:
            self._apply(leg, session, answer=True)

    def info_digit(self, call: SipCall, key: str) -> None:
        self.engine.digit(call.leg_id, key, "info")


def _user(raw: str, strip_plus: bool) -> str:
    """The SIP user for a rawId ("4:+15551234567") or plain number."""
    user = raw.split(":", 1)[1] if raw.startswith("4:") else raw
    return user.lstrip("+") if strip_plus else user


def _e164(user: str, prefix: str) -> str:
    digits = user.strip()
    if digits.startswith("+") or not digits.isdigit():
        return digits
    return prefix + digits


def _request_user(uri: str) -> str:
    try:
        return Uri.parse(uri).user
    except ValueError:
        return ""
