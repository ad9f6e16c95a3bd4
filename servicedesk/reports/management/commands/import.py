"""``servicedesk import bpic2013 PATH`` and ``servicedesk import events PATH``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from servicedesk.reports.importing import bpic2013, eventlog
from servicedesk.reports.importing.replay import Outcome, replay


class Command(BaseCommand):
    help = "Replay a real incident event log into incidents, timeline events and spans."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=["bpic2013", "events"])
        parser.add_argument("path", type=Path)
        parser.add_argument("--batch", type=int, default=500, help="Incidents per transaction.")
        parser.add_argument(
            "--prefix", default="", help="events: prepended to every incident reference."
        )

    def handle(
        self, *args: Any, kind: str, path: Path, batch: int, prefix: str, **options: Any
    ) -> None:
        if not path.exists():
            raise CommandError(f"{path} does not exist")
        started = time.monotonic()

        def progress(outcome: Outcome) -> None:
            self.stdout.write(
                f"{outcome.cases} incidents read: {outcome.imported} imported, "
                f"{outcome.skipped} already there ({time.monotonic() - started:.1f}s)"
            )

        try:
            if kind == "bpic2013":
                cases = bpic2013.read(path)
                reporter = "import.bpic2013"
            else:
                cases = eventlog.read(path, ref_prefix=prefix)
                reporter = "import.events"
            outcome = replay(cases, reporter_username=reporter, batch=batch, progress=progress)
        except (eventlog.LogError, ValueError, KeyError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(
            f"done: {outcome.imported} incidents imported, {outcome.skipped} already there, "
            f"{outcome.events} events, {outcome.spans} spans, {outcome.ignored_rows} rows after "
            f"closure ignored, in {time.monotonic() - started:.1f}s"
        ))  # fmt: skip
