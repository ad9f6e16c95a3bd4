"""`servicedesk doctor`: the auditor's report; exit status 1 when something needs attention."""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand

from servicedesk.core.health import health_report, probe_workers


class Command(BaseCommand):
    help = "Check the database, migrations, workers, overdue timers and undelivered messages."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")
        parser.add_argument(
            "--probe",
            type=float,
            metavar="SECONDS",
            help="Also schedule a no-op step and wait up to SECONDS for a worker to perform it.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = health_report()
        if options["probe"] is not None:
            seconds = probe_workers(options["probe"])
            report["probe_seconds"] = seconds
            if seconds is None:
                report["status"] = "degraded"
                report["problems"].append("no worker performed the probe step in time")
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
        else:
            for key, value in report.items():
                if key != "problems":
                    self.stdout.write(f"{key:22} {value}")
            for problem in report["problems"]:
                self.stdout.write(self.style.WARNING(f"problem: {problem}"))
            if report["status"] == "ok":
                self.stdout.write(self.style.SUCCESS("all good"))
        if report["status"] != "ok":
            sys.exit(1)
