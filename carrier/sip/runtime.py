"""The SIP runtime of a process: ONE loop thread running ONE 20 ms media clock, shared
by every SipCarrier (trunk) of the process (issue 14: "one shared 20 ms clock per
process").

Why one: with a loop thread and clock per trunk, N trunks meant N threads competing for
the GIL and the cores every 20 ms, ticks of different trunks drifting apart (a call on two
trunks needed queues between the clocks), and real-time priority applied N times. Each
trunk keeps its own UserAgent (SIP socket, config, timers) and MediaEngine; the engines
are tickers on the shared clock, so every leg of the process moves on the same tick.

The runtime starts on first use (`acquire`), is reference-counted, and stops its clock and
thread when the last carrier releases it. `shared()` is the process's; tests and tools
that want an isolated one (a second "process", e.g. a gateway restart) build their own
`SipRuntime()` and hand it to SipCarrier.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any

from carrier.sip.clock import MediaClock, make_realtime

THREAD_NAME = "sip-loop"


class SipRuntime:
    def __init__(self) -> None:
        self.clock = MediaClock()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        self.realtime = False  # whether the loop thread got SCHED_FIFO
        self.users = 0  # carriers holding the runtime
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive() and self.loop is not None

    def acquire(self, realtime_priority: int = 0) -> asyncio.AbstractEventLoop:
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
            assert self.loop is not None
            return self.loop

    def release(self) -> None:
        """Give a share back; the last one stops the clock and the thread."""
        with self._lock:
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

    def _start(self) -> None:
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
