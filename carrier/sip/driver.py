"""`SipCarrier`: the Carrier protocol over a SIP trunk (calls/carrier/__init__.py).

The gateway calls the protocol's methods from a worker thread, inside a database
transaction, so none of them may block or touch the SIP state directly: each one hands
its work to the SIP loop (`call_soon_threadsafe`). That loop and its 20 ms media clock
belong to the process's SipRuntime (carrier/sip/runtime.py), shared by every trunk with
the media engine (one mixer: a call's legs on two trunks hear each other directly); each
trunk has its own UserAgent (SIP socket, config) and gets the engine's events about its
own legs and recordings.
What happens on the network comes back as CarrierEvents in a thread-safe queue that
`poll()` drains. Ending events carry `sip_code` and `reason` (the final response), the
leg's `quality` figures and its `sip_trace`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from carrier.interface import CarrierEvent, Collect, Dial, Play, Record, SendTones, Stream
from carrier.media.audio import Audio
from carrier.sip.clock import MediaClock
from carrier.sip.config import TrunkConfig
from carrier.sip.engine import MediaEngine
from carrier.sip.legcontrol import LegControl, _Leg
from carrier.sip.mixer import Party
from carrier.sip.runtime import SipRuntime, shared
from carrier.sip.streams import SipStreams
from carrier.sip.transaction import Timers
from carrier.sip.ua import UserAgent

log = logging.getLogger(__name__)


class SipCarrier(LegControl):
    recognizes_speech = True  # the engine's speech collections (carrier.sip.listening)

    def __init__(
        self,
        config: TrunkConfig,
        *,
        timers: Timers | None = None,
        runtime: SipRuntime | None = None,
    ) -> None:
        self.config = config
        self._timers = timers
        self._events: queue.SimpleQueue[CarrierEvent] = queue.SimpleQueue()
        self._live: set[str] = set()
        self._lock = threading.Lock()
        self._legs: dict[str, _Leg] = {}
        # The loop of the process's SIP runtime while this carrier is started.
        self.runtime = runtime or shared()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task] = set()  # this trunk's tasks on the shared loop
        # Called (on the SIP thread) after each event is queued: a gateway wakes up on it.
        self.on_event: Callable[[], None] | None = None
        self._attached: set[str] = set()  # parties of other networks we put in the mix
        self.streams: SipStreams | None = None  # on the runtime's engine once started
        self.ua = UserAgent(config, self, timers=timers)

    # --- the SIP thread (the process's runtime, shared with every other trunk) ---
    @property
    def _thread(self) -> threading.Thread | None:
        return self.runtime.thread if self._loop is not None else None

    @property
    def clock(self) -> MediaClock:
        """The process's media clock (the runtime's: a fresh one after it restarted)."""
        return self.runtime.clock

    @property
    def engine(self) -> MediaEngine:
        return self.runtime.engine

    @property
    def realtime(self) -> bool:
        """Whether the (shared) loop thread runs SCHED_FIFO."""
        return self.runtime.realtime

    def start(self) -> None:
        """Take a share of the process's SIP loop and clock, bind this trunk's SIP socket
        and put its media engine on the clock (returns once listening)."""
        loop = self.runtime.acquire(self.config.realtime_priority, self._emit)
        try:
            self.runtime.run(self.ua.start())
        except BaseException:
            self.runtime.release(self._emit)
            raise
        self.streams = SipStreams(self.engine, self._emit, self._post)
        self._loop = loop

    @property
    def sip_port(self) -> int:
        return self.ua.port

    def close(self, *, grace: float = 0.3) -> None:
        """Hang up every leg (BYE, CANCEL, 503), take this trunk off the shared clock and
        loop (the other trunks' calls go on), and give the runtime back."""
        if self._loop is None:
            return
        loop, self._loop = self._loop, None

        async def shut() -> None:
            for leg in list(self._legs.values()):
                self._end(leg, notify=False)
            await asyncio.sleep(grace)
            for leg_id in self._attached:
                self.engine.remove_leg(leg_id)
            if self.streams is not None:
                self.streams.unhook()
            self.ua.close()
            for task in list(self._tasks):
                task.cancel()  # a leg still opening its ports, an answer waiting

        try:
            if loop.is_running():
                asyncio.run_coroutine_threadsafe(shut(), loop).result(timeout=10)
        finally:
            self.runtime.release(self._emit)

    def _submit(self, function: Callable[..., Any], *args: Any) -> None:
        def run() -> None:
            try:
                function(*args)
            except Exception:
                log.exception(
                    "SIP carrier command %s failed", getattr(function, "__name__", function)
                )

        if self._loop is None:
            raise RuntimeError("the SIP carrier is not started")
        self._loop.call_soon_threadsafe(run)

    def _run(self, coroutine: Any, timeout: float = 10.0) -> Any:
        """Run a coroutine on the SIP loop and wait for its result (for tools and tests)."""
        future: concurrent.futures.Future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout=timeout)

    def _post(self, action: Callable[[], None]) -> None:
        """Run `action` on the SIP loop (from another thread: a stream's connection)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(action)

    def _emit(self, event: CarrierEvent) -> None:
        self._events.put(event)
        if self.on_event is not None:
            self.on_event()

    # --- the Carrier protocol ---
    def dial(self, command: Dial) -> None:
        self._submit(self._dial, command)

    def answer(self, leg_id: str) -> None:
        self._submit(self._answer, leg_id)

    def reject(self, leg_id: str, sip_code: int) -> None:
        self._submit(self._reject, leg_id, sip_code)

    def hang_up(self, leg_id: str) -> None:
        self._submit(lambda: self._legs.get(leg_id) and self._end(self._legs[leg_id], notify=False))

    def set_muted(self, leg_id: str, muted: bool) -> None:
        self._submit(self.engine.set_muted, leg_id, muted)

    def play(self, command: Play) -> None:
        self._submit(self.engine.play, command)

    def collect(self, command: Collect) -> None:
        self._submit(self.engine.collect, command)

    def send_tones(self, command: SendTones) -> None:
        self._submit(self.engine.send_tones, command)

    def stop_media(self, op_id: str) -> None:
        self._submit(self.engine.stop_media, op_id)

    def listen_dtmf(self, leg_id: str, on: bool) -> None:
        self._submit(self.engine.listen_dtmf, leg_id, on)

    def start_recording(self, command: Record) -> None:
        self._submit(self._start_recording, command)

    def _start_recording(self, command: Record) -> None:
        self.runtime.own(f"recording:{command.recording_id}", self._emit)
        self.engine.start_recording(command)

    def pause_recording(self, recording_id: str) -> None:
        self._submit(self.engine.pause_recording, recording_id)

    def resume_recording(self, recording_id: str) -> None:
        self._submit(self.engine.resume_recording, recording_id)

    def stop_recording(self, recording_id: str) -> None:
        self._submit(self.engine.stop_recording, recording_id)

    def start_stream(self, command: Stream) -> None:
        self._submit(lambda: self.streams and self.streams.start(command))

    def stop_stream(self, stream_id: str) -> None:
        self._submit(lambda: self.streams and self.streams.stop(stream_id))

    def poll(self) -> list[CarrierEvent]:
        events = []
        while True:
            try:
                events.append(self._events.get_nowait())
            except queue.Empty:
                return events

    def live_legs(self) -> set[str]:
        with self._lock:
            return set(self._live)

    # A real network has no simulated person acting for the far end.
    def press(self, leg: str, key: str) -> None:
        pass

    def callee_answer(self, leg_id: str) -> None:
        pass

    def callee_hang_up(self, leg_id: str) -> None:
        pass

    # --- beyond the protocol ---
    def hold(self, leg_id: str, on: bool, music: Audio | None = None) -> None:
        """Put the far end on hold (re-INVITE sendonly, optional music) or take it off."""
        self._submit(self._hold, leg_id, on, music)

    def join(self, leg_id: str, call: str, who: str = "") -> None:
        """Conference a leg into `call` (an inbound leg once the engine knows its call)."""
        self._submit(self._join, leg_id, call, who)

    def attach(self, leg_id: str, party: Party, *, call: str, who: str) -> None:
        """Mix a party that is not SIP (a simulated or softphone leg) into `call`."""
        self._submit(self._attach, leg_id, party, call, who)

    def _attach(self, leg_id: str, party: Party, call: str, who: str) -> None:
        self.runtime.own(leg_id, self._emit)
        self._attached.add(leg_id)
        self.engine.add_leg(leg_id, party, call=call, who=who)

    def detach(self, leg_id: str) -> None:
        """Take an attached party out of the mix again (its leg ended elsewhere)."""
        self._submit(self._detach, leg_id)

    def _detach(self, leg_id: str) -> None:
        if leg_id in self._attached:
            self._attached.discard(leg_id)
            self.runtime.disown(self._emit, leg_id)
            self.engine.remove_leg(leg_id)

    def ping(self, timeout: float = 5.0) -> tuple[int, float]:
        """OPTIONS to the trunk: (status, round trip ms); 408 after Timer F."""

        async def ping() -> tuple[int, float]:
            return await self.ua.options()

        return self._run(ping(), timeout=max(timeout, 64 * (self._timers or Timers()).t1 + 1))

    def status(self) -> dict[str, Any]:
        """Registration, last ping, live calls and media clock health."""
        late = sorted(self.clock.lateness)
        p99 = late[int(len(late) * 0.99)] * 1000 if late else None
        return {
            "registration": dict(self.ua.registration),
            "ping": dict(self.ua.last_ping),
            "live_calls": len(self.live_legs()),
            "retransmissions": self.ua.layer.retransmissions if self.ua.layer else 0,
            "clock_late_p99_ms": round(p99, 2) if p99 is not None else None,
            "clock_skipped_ticks": self.clock.skipped,
            "clock_realtime": self.realtime,
            "clock_trunks": self.runtime.users,  # trunks sharing this process's clock
        }

    def trace(self, leg_id: str) -> list[dict[str, Any]]:
        leg = self._legs.get(leg_id)
        return self.ua.trace.entries(leg.call.call_id) if leg and leg.call else []

    def dialogs(self) -> list[dict[str, Any]]:
        """Snapshots of the established dialogs, for a gateway to keep across restarts."""

        async def snap() -> list[dict[str, Any]]:
            snapshots = (self._snapshot(leg) for leg in self._legs.values())
            return [snapshot for snapshot in snapshots if snapshot is not None]

        return self._run(snap())

    def bye_dialogs(self, snapshots: list[dict[str, Any]]) -> None:
        """After a restart: BYE dialogs of a previous run that this process cannot carry."""
        self._submit(self._bye_snapshots, snapshots)
