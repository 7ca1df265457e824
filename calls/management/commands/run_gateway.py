"""`manage.py run_gateway`: the long-lived process that carries calls (DESIGN.md).

An asyncio loop owns the driver; every database touch (claiming commands, ingesting
events) runs through sync_to_async so it never blocks the loop. It polls for command
rows, so a lost nudge or a restart loses nothing, and reconciles on start. It carries
every tenant's calls, so nothing may stop it but a signal: a step that fails (the
database went away, a bug) is logged, and the loop goes on after a short pause.
"""

import asyncio
import contextlib
import logging
import signal
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from calls import nudge
from calls.gateway import Gateway
from calls.trunk_fleet import TrunkFleet
from carrier.interface import MonotonicClock
from carrier.routing import CarrierRouter
from carrier.simulated.driver import SimulatedCarrier
from carrier.sip.clock import tune_process

log = logging.getLogger(__name__)
# After a failed step: long enough not to spin on a persistent fault, short enough that
# calls barely notice a passing one.
RETRY_PAUSE = 1.0


class Command(BaseCommand):
    help = "Run the carrier gateway (simulated driver, and SIP trunks with --driver sip)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--poll", type=float, default=0.25, help="Longest sleep between polls for work."
        )
        parser.add_argument(
            "--driver",
            choices=["simulated", "sip"],
            default="simulated",
            help="sip: also carry every enabled SIP trunk (numbers on no trunk stay simulated).",
        )
        parser.add_argument(
            "--id",
            dest="gateway_id",
            default=settings.GATEWAY_ID,
            help="This gateway's stable name (owns the calls it carries).",
        )

    def handle(self, *args: Any, poll: float, gateway_id: str, driver: str, **options: Any) -> None:
        asyncio.run(self.serve(poll, gateway_id, driver))

    async def serve(self, poll: float, gateway_id: str, driver: str = "simulated") -> None:
        stop, wake = asyncio.Event(), asyncio.Event()
        loop = asyncio.get_running_loop()
        carrier: Any = SimulatedCarrier(MonotonicClock())
        fleet = None
        if driver == "sip":
            carrier = CarrierRouter(carrier)
            fleet = TrunkFleet(
                carrier, gateway_id=gateway_id,
                # SIP events arrive on the SIP thread: wake the loop for them at once.
                on_event=lambda: loop.call_soon_threadsafe(wake.set),
            )  # fmt: skip
            carried = await sync_to_async(fleet.sync)()
            tune_process()  # after start-up: the media clocks run from here on
            self.stdout.write(f"gateway {gateway_id}: SIP trunks carried: {carried or 'none'}")
        gateway = Gateway(
            carrier, gateway_id=gateway_id, batch_seconds=settings.GATEWAY_BATCH_SECONDS
        )
        ended = await sync_to_async(gateway.reconcile)()
        self.stdout.write(
            f"gateway {gateway_id}: simulated carrier up ({ended} stale call(s) ended)"
        )
        checker = asyncio.create_task(self._check_trunks(fleet, stop)) if fleet else None
        pinger = asyncio.create_task(self._answer_pings(fleet, stop)) if fleet else None

        def shut_down() -> None:
            stop.set()
            wake.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, shut_down)
        listener = asyncio.create_task(nudge.listen(wake))
        step = sync_to_async(gateway.step)
        while not stop.is_set():
            try:
                while await step():
                    pass  # what an event led to (a queued play) runs at once
            except Exception:
                log.exception("gateway %s: a step failed; carrying on", gateway_id)
                # A broken connection is replaced on the next step.
                await sync_to_async(close_old_connections)()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=RETRY_PAUSE)
                continue
            # Sleep until the next poll, a nudge from the web tier, or the next timed event.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=self._until_next(carrier, poll))
            wake.clear()
        listener.cancel()
        if fleet is not None:
            checker.cancel()
            pinger.cancel()
            await sync_to_async(fleet.close)()  # BYE and CANCEL every SIP leg still up
        self.stdout.write("gateway: stopped")

    @staticmethod
    async def _check_trunks(fleet: TrunkFleet, stop: asyncio.Event) -> None:
        """Follow trunk changes and write each trunk's ping and registration, forever."""
        while not stop.is_set():
            try:
                await sync_to_async(fleet.check)()
                await sync_to_async(fleet.sync)()
            except Exception:
                log.exception("checking the SIP trunks failed; trying again later")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=settings.SIP_TRUNK_CHECK_SECONDS)

    @staticmethod
    async def _answer_pings(fleet: TrunkFleet, stop: asyncio.Event) -> None:
        """The portal's "Ping now": look for requests every second (one small query)."""
        answer = sync_to_async(fleet.answer_ping_requests, thread_sensitive=False)
        while not stop.is_set():
            try:
                await answer()
            except Exception:
                log.exception("answering the trunks' ping requests failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)

    @staticmethod
    def _until_next(carrier: Any, poll: float) -> float:
        """Sleep no longer than until the carrier's next timed event (a prompt ending)."""
        upcoming = carrier.next_event_at()
        if upcoming is None:
            return poll
        return max(0.0, min(poll, upcoming - carrier.clock.now()))
