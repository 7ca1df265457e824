from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from callauto.devcert import ensure_dev_certificate


class Command(BaseCommand):
    help = "Create the development CA and HTTPS certificate under var/tls/ (once)."

    def handle(self, *args: Any, **options: Any) -> None:
        paths = ensure_dev_certificate(settings.VAR_DIR / "tls")
        self.stdout.write(f"Certificate: {paths['cert']} (trust {paths['ca']})")
