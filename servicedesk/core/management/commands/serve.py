"""`servicedesk serve`: the production web server (gunicorn; uvicorn workers for ASGI)."""

from __future__ import annotations

import os
import sys
from typing import Any

from django.core.management.base import BaseCommand


def gunicorn_argv(*, host: str, port: int, workers: int, threads: int, asgi: bool) -> list[str]:
    argv = [
        sys.executable, "-m", "gunicorn",
        "--bind", f"{host}:{port}",
        "--workers", str(workers),
        "--access-logfile", "-",
        "--forwarded-allow-ips", os.environ.get("SERVICEDESK_FORWARDED_ALLOW_IPS", "127.0.0.1"),
        "--graceful-timeout", "20",
    ]  # fmt: skip
    if asgi:
        argv += ["--worker-class", "uvicorn_worker.UvicornWorker", "servicedesk.asgi:application"]
    else:
        if threads > 1:
            argv += ["--worker-class", "gthread", "--threads", str(threads)]
        argv += ["servicedesk.wsgi:application"]
    return argv


class Command(BaseCommand):
    help = "Serve the web UI and API with gunicorn."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default=os.environ.get("SERVICEDESK_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument(
            "--workers", type=int, default=int(os.environ.get("SERVICEDESK_WEB_WORKERS", "2"))
        )
        parser.add_argument(
            "--threads", type=int, default=int(os.environ.get("SERVICEDESK_WEB_THREADS", "1"))
        )
        parser.add_argument("--asgi", action="store_true", help="Serve ASGI with uvicorn workers.")

    def handle(self, *args: Any, **options: Any) -> None:
        argv = gunicorn_argv(
            host=options["host"], port=options["port"], workers=options["workers"],
            threads=options["threads"], asgi=options["asgi"],
        )  # fmt: skip
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "servicedesk.settings")
        os.execv(argv[0], argv)  # noqa: S606 (replace this process with gunicorn)
