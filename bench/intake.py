"""Alert storm: 50,000 Alertmanager alerts over 500 distinct keys, 16 senders at once,
against ServiceDesk started the production way (`servicedesk serve`: gunicorn,
2 web workers) on PostgreSQL.

Prints alerts accepted per second (target >= 1,000), incidents opened (must
equal the distinct keys), request latency (p50/p99), and a baseline: the same
server answering a static file (GET /static/web/app.css: gunicorn, Django's
middleware, WhiteNoise; no database) at the same concurrency, so that figures
from machines under different load can be compared (the ratio).

    .venv/bin/python bench/intake.py                  # defaults below
    .venv/bin/python bench/intake.py --batch 1        # one alert per request
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/intake.py

A scratch database is created next to the one DATABASE_URL names and dropped
afterwards; nothing else is touched. Every request loop is bounded.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

TARGET_PER_SECOND = 1_000
BASELINE_PATH = "/static/web/app.css"
BOOTSTRAP = (
    "from servicedesk.accounts.models import SupportGroup;"
    "SupportGroup.objects.get_or_create(name='Service Desk', level=1)"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def alert(key: int) -> dict[str, Any]:
    return {
        "status": "firing",
        "labels": {"alertname": f"StormAlert{key % 50}", "instance": f"host{key}:9100",
                   "service": "bench", "severity": "warning"},
        "annotations": {"summary": f"Storm alert {key}"},
        "startsAt": "2026-11-27T04:30:38Z", "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.bench/graph", "fingerprint": f"{key:016x}",
    }  # fmt: skip


def payloads(total: int, keys: int, batch: int, seed: int, ordered: bool = False) -> list[bytes]:
    """The storm as request bodies: every key fires total/keys times, in random order
    (``ordered``: in rotation, so that concurrent requests rarely share a key)."""
    order = [n % keys for n in range(total)]
    if not ordered:
        random.Random(seed).shuffle(order)
    bodies = []
    for start in range(0, total, batch):
        alerts = [alert(key) for key in order[start : start + batch]]
        bodies.append(json.dumps({
            "receiver": "servicedesk", "status": "firing", "alerts": alerts,
            "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
            "externalURL": "http://alertmanager.bench", "version": "4",
            "groupKey": "{}:{}", "truncatedAlerts": 0,
        }).encode())  # fmt: skip
    return bodies


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    accepted_alerts: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def send_all(port: int, method: str, path: str, bodies: list[bytes], concurrency: int,
             headers: dict[str, str], per_body_alerts: int, deadline_s: float) -> tuple[Result, float]:  # fmt: skip
    """Send every body once with ``concurrency`` threads; bounded by ``deadline_s``."""
    result, cursor, cursor_lock = Result(), iter(range(len(bodies))), threading.Lock()
    stop_at = time.monotonic() + deadline_s

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while time.monotonic() < stop_at:
            with cursor_lock:
                index = next(cursor, None)
            if index is None:
                break
            started = time.perf_counter()
            try:
                connection.request(method, path, body=bodies[index] or None, headers=headers)
                response = connection.getresponse()
                response.read()
                status = response.status
                if response.getheader("Connection", "").lower() == "close":
                    connection.close()
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                status = type(exc).__name__  # type: ignore[assignment]
            elapsed = time.perf_counter() - started
            with result.lock:
                result.latencies.append(elapsed)
                if status == 200:
                    result.accepted_alerts += per_body_alerts
                else:
                    result.errors[str(status)] = result.errors.get(str(status), 0) + 1
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return result, time.perf_counter() - started


def db_ceiling(url: str, connections: int, seconds: float) -> float:
    """The database's own ceiling in the same run: single-row insert transactions per
    second through psycopg from ``connections`` connections (bench/api.py's measure)."""
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("DROP TABLE IF EXISTS bench_ceiling")
        db.execute("CREATE TABLE bench_ceiling (id bigserial primary key, title text, "
                   "at timestamptz default now())")  # fmt: skip
    stop = time.monotonic() + seconds
    counts = [0] * connections

    def run(i: int) -> None:
        with psycopg.connect(url) as db:
            while time.monotonic() < stop:
                with db.transaction():
                    db.execute("INSERT INTO bench_ceiling (title) VALUES (%s)", ("x" * 40,))
                counts[i] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(connections)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.monotonic() - started)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=50_000)
    parser.add_argument("--keys", type=int, default=500)
    parser.add_argument(
        "--batch",
        type=int,
        default=10,
        help="alerts per webhook request (Alertmanager sends a group's alerts together)",
    )
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument(
        "--ordered",
        action="store_true",
        help="keys in rotation instead of shuffled (less lock contention)",
    )
    parser.add_argument("--max-seconds", type=float, default=600)
    parser.add_argument("--ceiling-seconds", type=float, default=10,
                        help="how long to measure the database ceiling after the storm")  # fmt: skip
    args = parser.parse_args()

    admin_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    parts = urllib.parse.urlsplit(admin_url)
    if not parts.scheme.startswith("postgres"):
        sys.exit("bench/intake.py measures PostgreSQL: set DATABASE_URL to a postgres:// URL")
    scratch = f"sd_bench_intake_{os.getpid()}"
    admin_dsn = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    bench_url = urllib.parse.urlunsplit(parts._replace(path=f"/{scratch}"))
    data_dir = Path(tempfile.mkdtemp(prefix="sd-bench-intake-"))
    env = {**os.environ, "DATABASE_URL": bench_url, "SERVICEDESK_DATA_DIR": str(data_dir),
           "DJANGO_SETTINGS_MODULE": "servicedesk.settings"}  # fmt: skip

    def manage(*argv: str) -> str:
        done = subprocess.run([sys.executable, "-m", "servicedesk", *argv], env=env,
                              capture_output=True, text=True, check=False, timeout=600)  # fmt: skip
        if done.returncode:
            sys.exit(f"servicedesk {' '.join(argv)} failed:\n{done.stderr}")
        return done.stdout.strip()

    with psycopg.connect(admin_dsn, autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{scratch}"')
    server = None
    try:
        manage("migrate", "--verbosity", "0")
        manage("shell", "-c", BOOTSTRAP)
        token = manage("integration", "create", "alertmanager", "storm")
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "servicedesk", "serve", "--port", str(port),
             "--workers", str(args.workers), "--threads", str(args.threads)],
            env=env, stdout=subprocess.DEVNULL, stderr=(data_dir / "server.log").open("wb"),
        )  # fmt: skip
        for _ in range(240):
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=2).request(
                    "GET", "/api/v1/health"
                )
                break
            except OSError:
                time.sleep(0.25)
        bodies = payloads(args.alerts, args.keys, args.batch, args.seed, args.ordered)
        # Warm up: both workers import the URLconf and the API before anything is timed.
        send_all(port, "GET", BASELINE_PATH, [b""] * 50, args.concurrency, {}, 1, 60)

        # Baseline: the same server doing nothing but answering, at the same concurrency.
        probes = [b""] * min(len(bodies), 2_000)
        base, base_elapsed = send_all(port, "GET", BASELINE_PATH, probes, args.concurrency,
                                      {}, 1, args.max_seconds)  # fmt: skip
        baseline_rps = len(base.latencies) / base_elapsed

        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        storm, elapsed = send_all(port, "POST", "/api/v1/intake/alertmanager", bodies,
                                  args.concurrency, headers, args.batch, args.max_seconds)  # fmt: skip
        with psycopg.connect(bench_url) as db:
            opened = db.execute("SELECT count(*) FROM incidents_incident").fetchone()[0]  # type: ignore[index]
            groups = db.execute(
                "SELECT count(*), coalesce(sum(count), 0) FROM integrations_alertgroup"
            ).fetchone()
            logged = db.execute(
                "SELECT count(*) FROM integrations_intakerequest WHERE result = 'accepted'"
            ).fetchone()[0]  # type: ignore[index]
        assert groups is not None
        ceiling = db_ceiling(bench_url, args.concurrency, args.ceiling_seconds)
        per_second = storm.accepted_alerts / elapsed
        requests_per_second = len(storm.latencies) / elapsed
        print(f"intake storm: {args.alerts} Alertmanager alerts, {args.keys} keys, "
              f"{args.batch} alerts/request, concurrency {args.concurrency}, "
              f"gunicorn {args.workers} workers x {args.threads} threads, PostgreSQL"
              f"{', keys in rotation' if args.ordered else ''}")  # fmt: skip
        print(
            f"  accepted:        {storm.accepted_alerts} alerts in {elapsed:.1f} s "
            f"= {per_second:,.0f} alerts/s ({requests_per_second:,.0f} requests/s); "
            f"target {TARGET_PER_SECOND:,}/s: {'met' if per_second >= TARGET_PER_SECOND else 'NOT met'}"
        )
        print(
            f"  incidents opened: {opened} (distinct keys {args.keys}: "
            f"{'equal' if opened == args.keys else 'DIFFERENT'}); alert groups {groups[0]}, "
            f"alerts counted {groups[1]}; requests logged {logged}"
        )
        print(
            f"  latency:         p50 {percentile(storm.latencies, 50) * 1000:.1f} ms, "
            f"p99 {percentile(storm.latencies, 99) * 1000:.1f} ms, "
            f"max {max(storm.latencies, default=0) * 1000:.1f} ms"
        )
        print(f"  errors:          {storm.errors or 'none'}")
        print(
            f"  baseline:        GET {BASELINE_PATH} {baseline_rps:,.0f} requests/s "
            f"(p99 {percentile(base.latencies, 99) * 1000:.1f} ms); intake requests/s "
            f"/ baseline = {requests_per_second / baseline_rps:.2f}, "
            f"alerts/s / target = {per_second / TARGET_PER_SECOND:.2f}"
        )
        print(
            f"  database:        {ceiling:,.0f} single-row insert transactions/s from "
            f"{args.concurrency} connections (same run); intake requests/s / ceiling = "
            f"{requests_per_second / ceiling:.3f}, alerts/s / ceiling = {per_second / ceiling:.3f}"
        )
        print(f"  load average:    {os.getloadavg()[0]:.1f} (1 min, after the storm)")
        ok = opened == args.keys and not storm.errors and groups[1] == args.alerts
        return 0 if ok else 1
    finally:
        if server is not None and server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        with psycopg.connect(admin_dsn, autocommit=True) as db:
            db.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
