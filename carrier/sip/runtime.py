"""The SIP runtime of a process: ONE loop thread running ONE 20 ms media clock, shared
by every SipCarrier (trunk) of the process (issue 14: "one shared 20 ms clock per
process").

Why one: with a loop thread and clock per trunk, N trunks meant N threads competing for
the GIL and the cores every 20 ms, ticks of different trunks drifting apart (a call on two
trunks needed queues between the clocks), and real-time priority applied N times. Each
trunk keeps its own UserAgent (SIP socket, config, timers); the media engine is shared
too, so legs of one call on two trunks of the process are in one mixer (no link between
two clocks, each participant its own recording channel). The engine's events go back to
the carrier that owns what they are about (`own`): the leg, else the recording.

The runtime starts on first use (`acquire`), is reference-counted, and stops its clock and
thread when the last carrier releases it. `shared()` is the process's; tests and tools
that want an isolated one (a second "process", e.g. a gateway restart) build their own
`SipRuntime()` and hand it to SipCarrier.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable
from typing import Any

from carrier.interface import CarrierEvent, RecordingOutcome
from carrier.sip.clock import MediaClock, make_realtime
from carrier.sip.engine import MediaEngine

log = logging.getLogger(__name__)

Emit = Callable[[CarrierEvent], None]

THREAD_NAME = "sip-loop"


class SipRuntime:
    def __init__(self) -> None:
        self._fresh()
        self._emits: list[Emit] = []  # the carriers holding the runtime, oldest first
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        self.realtime = False  # whether the loop thread got SCHED_FIFO
        self.users = 0  # carriers holding the runtime
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive() and self.loop is not None

    def acquire(
        self, realtime_priority: int = 0, emit: Emit | None = None
    ) -> asyncio.AbstractEventLoop:
        """Take a share of the runtime (starting it if nobody holds it, or if its thread
        died) and return its loop. Real-time priority is applied once, by the first
        carrier that asks for it."""
        with self._lock:
            if not self.running:
                self._start()
                self.users = 0
            if realtime_priority > 0 and not self.realtime:
                self.realtime = self.run(_realtime(realtime_priority))
            self.users += 1
            if emit is not None:
                self._emits.append(emit)
            assert self.loop is not None
            return self.loop

    def release(self, emit: Emit | None = None) -> None:
        """Give a share back; the last one stops the clock and the thread."""
        with self._lock:
            if emit is not None:
                self.disown(emit)
                if emit in self._emits:
                    self._emits.remove(emit)
            self.users = max(0, self.users - 1)
            if self.users == 0 and self.running:
                self._stop()

    def run(self, coroutine: Any, timeout: float = 10.0) -> Any:
        """Run a coroutine on the loop and wait for its result (from another thread)."""
        assert self.loop is not None, "the SIP runtime is not started"
        future: concurrent.futures.Future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return future.result(timeout=timeout)

    def post(self, action: Callable[[], None]) -> None:
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(action)

    # --- which carrier hears the shared engine's events ---
    def own(self, key: str, emit: Emit) -> None:
        """Events about `key` (a leg id, "recording:<id>") go to `emit`'s carrier."""
        self._owners[key] = emit

    def disown(self, emit: Emit, key: str | None = None) -> None:
        if key is not None:
            if self._owners.get(key) is emit:
                del self._owners[key]
            return
        for owned in [k for k, e in self._owners.items() if e is emit]:
            del self._owners[owned]

    def _route(self, event: CarrierEvent) -> None:
        recording = event.detail.get("recording")
        key = f"recording:{recording}" if recording else ""
        emit = self._owners.get(event.leg_id) or self._owners.get(key)
        if key and event.kind in (RecordingOutcome.READY, RecordingOutcome.FAILED):
            self._owners.pop(key, None)  # a recording's last event
        if emit is None and self._emits:
            emit = self._emits[0]  # nobody owns it (a leg already gone): the oldest trunk
        if emit is None:
            log.warning("SIP media event %s for %r with no carrier left", event.kind, event.leg_id)
            return
        emit(event)

    def _fresh(self) -> None:
        """A new clock and engine: a runtime that starts again starts clean, like a new
        process (nothing of the last carriers' legs, recordings or ids is left)."""
        self.clock = MediaClock()
        self.engine = MediaEngine(self.clock, self._route)
        self._owners: dict[str, Emit] = {}  # leg id or "recording:<id>" -> its carrier's

    def _start(self) -> None:
        if self.clock.ticks or self.engine.legs:
            self._fresh()
        started = threading.Event()
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(self.clock.start)
            loop.call_soon(started.set)
            loop.run_forever()
            loop.close()

        self.loop, self.realtime = loop, False
        self.thread = threading.Thread(target=run, name=THREAD_NAME, daemon=True)
        self.thread.start()
        started.wait()

    def _stop(self) -> None:
        loop, thread = self.loop, self.thread
        assert loop is not None
        assert thread is not None

        async def shut() -> None:
            await self.clock.stop()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()  # whatever a carrier left behind

        try:
            self.run(shut())
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=5)
            self.loop = self.thread = None
            self.realtime = False


async def _realtime(priority: int) -> bool:
    return make_realtime(priority)  # on the loop thread: that is the thread it changes


_shared: SipRuntime | None = None
_shared_lock = threading.Lock()


def shared() -> SipRuntime:
    """The process's runtime (created on first call; started by the first carrier)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = SipRuntime()
        return _shared
