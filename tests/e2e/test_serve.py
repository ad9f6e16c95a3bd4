"""The production server starts and serves, WSGI (gunicorn) and ASGI (uvicorn workers)."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from servicedesk.testing.processes import free_port, spawn, stop

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("mode", [[], ["--asgi"]], ids=["wsgi", "asgi"])
def test_serve_answers_health_and_sends_security_headers(mode: list[str]) -> None:
    port = free_port()
    server = spawn("serve", "--port", str(port), "--workers", "1", *mode)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/api/v1/health", timeout=2
                ) as response:
                    body = json.loads(response.read())
                    headers = response.headers
                break
            except OSError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        assert body["database"] in ("sqlite", "postgresql")
        assert body["migrations_pending"] == 0
        assert headers["X-Content-Type-Options"] == "nosniff"
    finally:
        stop(server)
