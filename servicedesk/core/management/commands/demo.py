"""`servicedesk demo`: build (or complete) the demo organisation. Idempotent."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from servicedesk.core.demo import DEMO_LOGINS, DEMO_PASSWORD, build


class Command(BaseCommand):
    help = "Load a believable demo organisation with incidents in every state (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        summary = build()
        if options["verbosity"]:
            for line in summary:
                self.stdout.write(line)
            self.stdout.write(f"Demo logins (password '{DEMO_PASSWORD}'):")
            for username, what in DEMO_LOGINS:
                self.stdout.write(f"  {username:12} {what}")
