from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand

from webhooks import signing


class Command(BaseCommand):
    help = "Sign callback tokens with a new RS256 key; the old one stays published a while."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--overlap-hours", type=float, default=24.0)

    def handle(self, *args: Any, overlap_hours: float, **options: Any) -> None:
        key = signing.rotate_jwt_key(overlap=timedelta(hours=overlap_hours))
        self.stdout.write(
            f"New signing key {key.kid}; older keys stay in the JWKS {overlap_hours} h."
        )
