"""`manage.py demo_info`: print the demo's portal, logins and connection string again."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from callauto.demo_info import banner, demo_info


class Command(BaseCommand):
    help = "Print the demo tenant's portal URL, logins and connection string (after seed_demo)."

    def handle(self, *args: Any, **options: Any) -> None:
        info = demo_info()
        if info is None:
            raise CommandError("No demo tenant yet: run `manage.py seed_demo` (make run does).")
        self.stdout.write(banner(info))
