"""``servicedesk reports rebuild``: recompute every incident's report facts."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from servicedesk.reports import facts


class Command(BaseCommand):
    help = (
        "Recompute the report facts of every incident from its timeline (after changing "
        "the business hours, holidays or resolution targets)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["rebuild"])

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        started = time.monotonic()

        def progress(done: int, total: int) -> None:
            self.stdout.write(f"{done}/{total} incidents ({time.monotonic() - started:.1f}s)")

        done = facts.rebuild(progress=progress)
        self.stdout.write(
            self.style.SUCCESS(f"done: {done} incidents in {time.monotonic() - started:.1f}s")
        )
