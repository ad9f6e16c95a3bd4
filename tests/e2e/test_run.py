"""`make run`'s command from nothing: `servicedesk run` migrates a new SQLite
database in an empty data directory, loads the demo, starts the server and the
worker, prints the URL, and its messages link to that server's port."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from servicedesk.testing.processes import free_port, stop

pytestmark = pytest.mark.e2e


def test_run_serves_the_demo_on_its_port(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "SERVICEDESK_BASE_URL", "DJANGO_SETTINGS_MODULE"}}  # fmt: skip
    env["SERVICEDESK_DATA_DIR"] = str(tmp_path / "var")
    log = (tmp_path / "run.log").open("w")  # a pipe nobody reads would fill and block it
    run = subprocess.Popen(
        [sys.executable, "-m", "servicedesk", "run", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while f"http://localhost:{port}/" not in (tmp_path / "run.log").read_text(errors="replace"):
            assert run.poll() is None, (tmp_path / "run.log").read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "servicedesk run printed no URL"
            time.sleep(0.5)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=5) as r:
            assert r.status == 200
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=5) as r:
            assert r.status == 200 and b"ServiceDesk" in r.read()
        database = tmp_path / "var" / "servicedesk.sqlite3"
        with sqlite3.connect(database) as db:
            incidents = db.execute("SELECT COUNT(*) FROM incidents_incident").fetchone()[0]
            payloads = [row[0] for row in db.execute("SELECT payload FROM core_outboxmessage")]
        assert incidents >= 40  # the demo organisation's incidents, in every state
        linked = [p for p in payloads if "/incidents/" in p]
        assert linked and all(f"http://localhost:{port}/incidents/" in p for p in linked)
    finally:
        stop(run, timeout=60)
        log.close()
