"""`manage.py dispatch_notifications`: run the notifications dispatcher in the foreground
(what the minute schedule runs in a worker), e.g. as a dedicated process beside the
cluster, or in the crash tests and the benchmark."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from notifications import dispatcher


class Command(BaseCommand):
    help = "Dial due notification recipients for --seconds, paced to each tenant's limits."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seconds", type=float, default=50.0)
        parser.add_argument("--tenant", type=int, default=None, help="only this tenant's id")
        parser.add_argument("--stay", action="store_true", help="keep ticking while nothing is due")

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write("dispatcher up", ending="\n")
        self.stdout.flush()
        placed = dispatcher.run(
            seconds=options["seconds"], tenant_id=options["tenant"], stay=options["stay"]
        )
        self.stdout.write(f"placed {placed}")
