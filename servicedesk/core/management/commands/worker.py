"""`servicedesk worker`: run the timer and delivery loops (as many as you like)."""

from __future__ import annotations

import signal
from typing import Any

from django.core.management.base import BaseCommand

from servicedesk.core.worker import Worker


class Command(BaseCommand):
    help = "Run the background worker: due steps (SLA, escalation), periodic jobs, outbox delivery."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--name", help="Worker name (default: host:pid:random).")
        parser.add_argument("--poll", type=float, default=None, help="Seconds between idle polls.")
        parser.add_argument("--batch", type=int, default=50, help="Rows claimed per poll.")
        parser.add_argument(
            "--chunk",
            type=int,
            default=None,
            help="Due items performed per transaction (default: 10 on PostgreSQL, 1 on SQLite).",
        )
        parser.add_argument("--lease", type=float, default=None, help="Lease length in seconds.")
        parser.add_argument("--concurrency", type=int, default=4, help="Parallel deliveries.")
        parser.add_argument(
            "--until-idle",
            action="store_true",
            help="Exit when nothing is due (one-shot runs, tests).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        worker = Worker(
            name=options["name"], poll_seconds=options["poll"], batch=options["batch"],
            lease_seconds=options["lease"], delivery_concurrency=options["concurrency"],
            chunk=options["chunk"],
        )  # fmt: skip

        def stop(signum: int, frame: Any) -> None:
            self.stderr.write(f"worker {worker.name}: stopping after the current step")
            worker.stop_event.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write(f"worker {worker.name} started")
        self.stdout.flush()
        worker.run(until_idle=options["until_idle"])
