"""`servicedesk run` (what `make run` calls): migrate, load the demo once, then serve
the web app and run a worker until Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from servicedesk.core.management.commands.serve import gunicorn_argv


class Command(BaseCommand):
    help = "Run the whole product locally: migrations, demo data, web server and worker."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--host", default=os.environ.get("SERVICEDESK_HOST", "127.0.0.1"))
        parser.add_argument(
            "--no-demo", action="store_true", help="Do not load the demo organisation."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = options["host"], options["port"]
        url = f"http://{'localhost' if host in ('127.0.0.1', '0.0.0.0') else host}:{port}/"  # noqa: S104
        if not os.environ.get("SERVICEDESK_BASE_URL"):
            # Links in messages (the demo's too) point at this server, not the default port.
            settings.BASE_URL = url.rstrip("/")
        call_command("migrate", interactive=False, verbosity=0)
        if not options["no_demo"]:
            call_command("demo", verbosity=0)
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "servicedesk.settings",
               "SERVICEDESK_DATA_DIR": str(settings.DATA_DIR),
               "SERVICEDESK_BASE_URL": settings.BASE_URL}  # fmt: skip
        web = subprocess.Popen(
            gunicorn_argv(host=host, port=port, workers=2, threads=4, asgi=False), env=env
        )
        worker = subprocess.Popen([sys.executable, "-m", "servicedesk", "worker"], env=env)
        stopping = False

        def stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            if self._wait_ready(f"http://{host}:{port}/api/v1/health", web):
                self._banner(url, options["no_demo"])
            while not stopping and web.poll() is None and worker.poll() is None:
                time.sleep(0.5)
        finally:
            for proc in (web, worker):
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in (web, worker):
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        if not stopping:
            sys.exit(
                f"a process exited unexpectedly (web: {web.returncode}, worker: {worker.returncode})"
            )

    def _wait_ready(self, health_url: str, web: subprocess.Popen[bytes]) -> bool:
        for _ in range(120):
            if web.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(health_url, timeout=2):  # noqa: S310 (our own URL)
                    return True
            except OSError:
                time.sleep(0.25)
        return False

    def _banner(self, url: str, no_demo: bool) -> None:
        lines = [
            "",
            f"  ServiceDesk is running at {url}",
            f"  API docs: {url}api/v1/docs   Admin: {url}admin/",
            f"  Data directory: {settings.DATA_DIR}",
        ]
        if not no_demo:
            from servicedesk.core.demo import DEMO_LOGINS, DEMO_PASSWORD

            lines.append(f"  Demo logins (password '{DEMO_PASSWORD}' for all):")
            lines += [f"    {username:12} {what}" for username, what in DEMO_LOGINS]
        lines += ["  Press Ctrl-C to stop.", ""]
        self.stdout.write("\n".join(lines))
        self.stdout.flush()
