"""`manage.py run_gateway`: the long-lived process that carries calls (DESIGN.md).

An asyncio loop owns the driver; every database touch (claiming commands, ingesting
events) runs through sync_to_async so it never blocks the loop. It polls for command
rows, so a lost nudge or a restart loses nothing, and reconciles on start.
"""

import asyncio
import contextlib
import signal
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.management.base import BaseCommand

from calls.carrier import MonotonicClock
from calls.carrier.simulated import SimulatedCarrier
from calls.gateway import Gateway


class Command(BaseCommand):
    help = "Run the carrier gateway with the simulated driver, in real time."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--poll", type=float, default=0.05, help="Seconds between polls for work."
        )
        parser.add_argument(
            "--id",
            dest="gateway_id",
            default=settings.GATEWAY_ID,
            help="This gateway's stable name (owns the calls it carries).",
        )

    def handle(self, *args: Any, poll: float, gateway_id: str, **options: Any) -> None:
        asyncio.run(self.serve(poll, gateway_id))

    async def serve(self, poll: float, gateway_id: str) -> None:
        gateway = Gateway(SimulatedCarrier(MonotonicClock()), gateway_id=gateway_id)
        ended = await sync_to_async(gateway.reconcile)()
        self.stdout.write(
            f"gateway {gateway_id}: simulated carrier up ({ended} stale call(s) ended)"
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        step = sync_to_async(gateway.step)
        while not stop.is_set():
            await step()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=poll)
        self.stdout.write("gateway: stopped")
