"""The one 20 ms media clock of a process: a single asyncio task ticks every stream.

One task for all streams costs far less than one per stream (SIP-NOTES §4.1) and keeps
every leg of a conference on the same tick, which mixing and recording alignment need.
Each tick is absolute (`start + n * 20 ms`), so lateness does not accumulate; when the
loop was stalled for more than 200 ms the clock skips ahead instead of bursting. A ticker
that raises is logged and dropped, never allowed to stop the clock (pitfall 3).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable

log = logging.getLogger(__name__)

TICK = 0.020
RESYNC_AFTER = 0.200
# How long another thread may hold the GIL before the media clock's thread gets it back
# (Python's default is 5 ms: a whole RTP deviation budget).
SWITCH_INTERVAL = 0.001


def tune_process() -> None:
    """Settings for a process that runs media clocks next to other Python work (the
    gateway's database thread): hand the GIL over sooner, and move what start-up built
    (Django, models, tables) out of the garbage collector's way so a full collection
    does not walk it during a tick."""
    sys.setswitchinterval(SWITCH_INTERVAL)
    gc.collect()
    gc.freeze()


def make_realtime(priority: int) -> bool:
    """Make the calling thread (the SIP loop, which runs the media clock) SCHED_FIFO at
    `priority` (1-99). On a loaded machine an ordinary thread waits in the run queue for
    tens of ms, which no tuning inside the process helps; a real-time thread preempts
    everything ordinary (NOTES, issue 18: clock p99 61 ms -> 1.2 ms at load 15-17).
    SCHED_RESET_ON_FORK: threads and processes started from this thread (the speech pool's
    workers, a stream hub) go back to the ordinary policy, so CPU-bound work never runs
    real-time. Needs root or CAP_SYS_NICE (or an RLIMIT_RTPRIO allowance); when refused,
    logs a warning and returns False: the clock runs as before."""
    tid = threading.get_native_id()
    try:
        policy = os.SCHED_FIFO | os.SCHED_RESET_ON_FORK
        os.sched_setscheduler(tid, policy, os.sched_param(priority))
    except (OSError, AttributeError) as exc:  # EPERM without the right; EINVAL; not Linux
        log.warning(
            "MEDIA_REALTIME_PRIORITY=%s: the media clock thread could not be made "
            "real-time (%s); it runs at the ordinary priority, so under load its ticks "
            "can be late by tens of ms (grant CAP_SYS_NICE or run as root)",
            priority,
            exc,
        )
        return False
    log.info("the media clock thread %s runs SCHED_FIFO at priority %s", tid, priority)
    return True


class MediaClock:
    def __init__(self) -> None:
        self._tickers: list[Callable[[int], None]] = []
        self._task: asyncio.Task | None = None
        self.ticks = 0
        self.skipped = 0
        self.lateness: deque[float] = deque(maxlen=15000)  # seconds late, last 5 minutes
        self.work: deque[float] = deque(maxlen=15000)  # seconds each tick's work took
        # CPU seconds of each tick's work (this thread only): the cost, whatever the load.
        self.cpu: deque[float] = deque(maxlen=15000)
        self.started_at = 0.0

    def add(self, ticker: Callable[[int], None]) -> None:
        self._tickers.append(ticker)

    def remove(self, ticker: Callable[[int], None]) -> None:
        if ticker in self._tickers:
            self._tickers.remove(ticker)

    @property
    def now(self) -> float:
        """Seconds on the media clock: ticks so far times 20 ms."""
        return self.ticks * TICK

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        # A task of another loop (one that was stopped without stopping the clock: a
        # process "dying" in a test) no longer ticks: start again on this one.
        if self._task is None or self._task.get_loop() is not loop:
            self._task = loop.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        self.started_at = due = loop.time()
        while True:
            due += TICK
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            late = loop.time() - due
            if late > RESYNC_AFTER:
                missed = int(late / TICK)
                self.skipped += missed
                due += missed * TICK
                late -= missed * TICK
            self.lateness.append(max(late, 0.0))
            # The tick count is time on the clock (skipped ticks included), so recordings
            # stay aligned to real time even after a stall.
            self.ticks = round((due - self.started_at) / TICK)
            began, cpu = loop.time(), time.thread_time()
            for ticker in list(self._tickers):
                try:
                    ticker(self.ticks)
                except Exception:
                    log.exception("a media ticker failed; it is dropped, the clock goes on")
                    self.remove(ticker)
            self.work.append(loop.time() - began)
            self.cpu.append(time.thread_time() - cpu)
