"""Real processes against the test database (file-backed SQLite or PostgreSQL)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db import connection


def database_url() -> str:
    """A DATABASE_URL for the database the current test runs on."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        name = str(db["NAME"])
        if name == ":memory:" or "mode=memory" in name:
            raise RuntimeError("real processes need a file-backed test database")
        return f"sqlite:///{Path(name).resolve()}"
    user = quote(db.get("USER") or "")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


def servicedesk_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE": "servicedesk.settings",
           "SERVICEDESK_DATA_DIR": str(settings.DATA_DIR), "PYTHONUNBUFFERED": "1"}  # fmt: skip
    env.update(extra)
    return env


def spawn(*args: str, **extra_env: str) -> subprocess.Popen[str]:
    """Start ``servicedesk ARGS...`` with the test database."""
    return subprocess.Popen(
        [sys.executable, "-m", "servicedesk", *args],
        env=servicedesk_env(**extra_env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def free_port() -> int:
    """A TCP port nothing listens on now (for a server a test starts)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(process: subprocess.Popen[Any], timeout: float = 30) -> None:
    """SIGTERM (the product's clean shutdown), then SIGKILL if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
