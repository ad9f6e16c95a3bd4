"""Fuzz the API from its OpenAPI schema against a live server: no request may get a 5xx.

Used by `make schemathesis` and `.ci/run` (on PostgreSQL). Starts the server the
production way (gunicorn) on a fresh data directory; on PostgreSQL it uses the
database of DATABASE_URL, which must be a throw-away one.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def print_tracebacks(log: str, limit: int = 5) -> None:
    """The server's tracebacks (the cause of any 5xx), not its routine warnings."""
    blocks: list[list[str]] = []
    for line in log.splitlines():
        if " ERROR django.request" in line:
            blocks.append([line])
        elif blocks and (
            line.startswith((" ", "Traceback"))
            or (line and not line[0].isdigit() and "[" not in line[:2])
        ):
            blocks[-1].append(line)
    for block in blocks[:limit]:
        print("\n".join(block), file=sys.stderr)


def main() -> int:
    data_dir = tempfile.mkdtemp(prefix="servicedesk-schemathesis-")
    env = {**os.environ, "SERVICEDESK_DATA_DIR": data_dir, "SERVICEDESK_LOGIN_THROTTLE": "0"}
    servicedesk = [sys.executable, "-m", "servicedesk"]
    subprocess.run([*servicedesk, "migrate", "-v", "0"], env=env, check=True)
    subprocess.run([*servicedesk, "demo", "-v", "0"], env=env, check=True)
    token = subprocess.run([*servicedesk, "token", "create", "admin"], env=env, check=True,
                           capture_output=True, text=True).stdout.strip()  # fmt: skip
    port = free_port()
    # The server's log goes to a file: a pipe nobody reads would fill and block it.
    log_path = Path(data_dir) / "server.log"
    log = log_path.open("w")
    server = subprocess.Popen([*servicedesk, "serve", "--port", str(port), "--workers", "2"], env=env,
                              stdout=subprocess.DEVNULL, stderr=log)  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/api/v1/health", timeout=2).read()
                break
            except OSError:
                time.sleep(0.2)
        command = [
            str(BIN / "schemathesis"), "run", f"{base}/api/v1/openapi.json",
            "--checks", "not_a_server_error",
            "--header", f"Authorization: Bearer {token}",
            "--max-examples", os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "40"),
            "--workers", os.environ.get("SCHEMATHESIS_WORKERS", "2"),
            "--phases", "examples,coverage,fuzzing",
            "--generation-database", "none",
            "--request-timeout", "30",
            "--no-color",
        ]  # fmt: skip
        # A fixed seed replays the same cases (CI gates on it); without one,
        # every run explores new inputs.
        if seed := os.environ.get("SCHEMATHESIS_SEED"):
            command += ["--seed", seed]
        print(
            "+",
            " ".join(c if "Bearer" not in c else "Authorization: Bearer ***" for c in command),
            flush=True,
        )
        result = subprocess.run(command, env=env, cwd=ROOT)
        return result.returncode
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
        print_tracebacks(log_path.read_text())


if __name__ == "__main__":
    sys.exit(main())
