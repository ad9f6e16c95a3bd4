"""Outbox throughput and latency: N messages through W worker processes to a loopback receiver.

    .venv/bin/python bench/outbox.py                       # 10,000 messages, 2 workers, SQLite
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sd_bench .venv/bin/python bench/outbox.py

A producer writes the messages as services do (one short transaction per
event, ``core.outbox.enqueue``) while the workers deliver them as signed
webhooks to a receiver in its own process, which notes when each arrives.
Printed: messages delivered per second, the latency from the event's commit to
the receiver (p50, p99, max), duplicates seen by the receiver, and the
baseline ratio: the outbox's rate divided by the rate of the same POSTs sent
straight to the receiver by as many threads (the price of durability).

The database named by DATABASE_URL is migrated and its outbox emptied: point
it at a scratch database (PostgreSQL: it is created when missing). Without
DATABASE_URL a temporary SQLite file is used.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def receiver_process(ready: Any, stop: Any, results: Any, secret: str) -> None:
    """A webhook receiver in its own process: verify, de-duplicate, note arrival times."""
    import django

    django.setup()
    from servicedesk.notifications.receivers import WebhookReceiver

    server = WebhookReceiver(secret=secret).start()
    ready.put(server.url)
    stop.wait()
    server.stop()
    arrivals = []
    for delivery in server.deliveries:
        body = delivery.json()
        arrivals.append((delivery.message_id, delivery.received_at, body.get("t0", 0.0),
                         bool(delivery.signature_ok)))  # fmt: skip
    results.put(arrivals)


def ensure_database(url: str) -> None:
    if not url.startswith(("postgres://", "postgresql://")):
        return
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def direct_baseline(url: str, count: int, threads: int) -> float:
    """POSTs per second sent straight to the receiver, without the outbox."""
    import httpx

    per_thread = count // threads
    body = json.dumps({"type": "baseline", "t0": 0.0}).encode()

    def send(index: int) -> None:
        with httpx.Client(timeout=10) as client:
            for n in range(per_thread):
                client.post(
                    url, content=body, headers={"X-ServiceDesk-Message-Id": f"b{index}-{n}"}
                )

    started = time.monotonic()
    pool = [threading.Thread(target=send, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return per_thread * threads / (time.monotonic() - started)


def enqueue_events(
    url: str,
    secret: str,
    events: int,
    per_event: int,
    *,
    first: int = 0,
    rate: float = 0.0,
    threads: int = 1,
) -> float:
    """Write ``events`` transactions of ``per_event`` messages (as services do); returns
    the time the first began. Paced at ``rate`` events per second when given."""
    from django.db import close_old_connections, transaction

    from servicedesk.core import outbox

    started = time.time()

    def produce(offset: int) -> None:
        try:
            for n in range(offset, events, threads):
                if rate:
                    delay = started + n / rate - time.time()
                    if delay > 0:
                        time.sleep(delay)
                with transaction.atomic():
                    t0 = time.time()
                    for k in range(per_event):
                        outbox.enqueue(
                            channel="webhook", destination=url, event_type="bench.message",
                            payload={"type": "bench", "n": first + n * per_event + k, "t0": t0},
                            meta={"secret": secret},
                        )  # fmt: skip
        finally:
            close_old_connections()

    pool = [threading.Thread(target=produce, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return started


def start_workers(args: argparse.Namespace, env: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "servicedesk",
                "worker",
                "--name",
                f"bench-{i}",
                "--concurrency",
                str(args.concurrency),
                "--batch",
                str(args.batch),
                "--poll",
                "0.05",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(args.workers)
    ]


def wait_started(count: int, timeout: float = 300) -> None:
    """Until every worker has written its heartbeat (Django is imported, the loops run)."""
    from servicedesk.core.models import WorkerHeartbeat

    deadline = time.monotonic() + timeout
    while WorkerHeartbeat.objects.filter(name__startswith="bench-").count() < count:
        if time.monotonic() > deadline:
            raise SystemExit("the workers did not start")
        time.sleep(0.1)


def stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        worker.wait(timeout=120)


def wait_drained(timeout: float = 900) -> None:
    from servicedesk.core.models import OutboxMessage, RowState

    deadline = time.monotonic() + timeout
    while OutboxMessage.objects.exclude(state=RowState.DONE).exists():
        if time.monotonic() > deadline:
            return
        time.sleep(0.2)


class Receiver:
    """The receiver process of one phase."""

    def __init__(self, ctx: Any, secret: str) -> None:
        self.ready, self.results, self.stop = ctx.Queue(), ctx.Queue(), ctx.Event()
        self.process = ctx.Process(
            target=receiver_process, args=(self.ready, self.stop, self.results, secret)
        )
        self.process.start()
        self.url: str = self.ready.get(timeout=120)

    def finish(self) -> list[tuple[str, float, float, bool]]:
        self.stop.set()
        arrivals: list[tuple[str, float, float, bool]] = self.results.get(timeout=300)
        self.process.join(timeout=60)
        return arrivals


def report(
    arrivals: list[tuple[str, float, float, bool]], started: float
) -> tuple[float, list[float]]:
    first: dict[str, tuple[float, float]] = {}
    for message_id, received_at, t0, _ok in arrivals:
        first.setdefault(message_id, (received_at, t0))
    latencies = [received - t0 for received, t0 in first.values()]
    last = max(received for received, _ in first.values())
    ids = [a[0] for a in arrivals]
    bad = sum(1 for a in arrivals if not a[3])
    print(f"  delivered {len(first)} in {last - started:.1f} s; duplicates at the receiver "
          f"{len(ids) - len(set(ids))}; bad signatures {bad}")  # fmt: skip
    return len(first) / (last - started), latencies


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=10_000, help="backlog drained in phase 1")
    parser.add_argument("--live-messages", type=int, default=3_000, help="messages of phase 2")
    parser.add_argument("--rate", type=float, default=0,
                        help="phase 2 events per second (default: a quarter of the phase 1 rate)")  # fmt: skip
    parser.add_argument("--per-event", type=int, default=2, help="messages per event (transaction)")
    parser.add_argument("--producers", type=int, default=4, help="producer threads in phase 2")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--concurrency", type=int, default=8, help="deliveries in parallel per worker"
    )
    parser.add_argument("--batch", type=int, default=100, help="rows a worker claims per poll")
    args = parser.parse_args()

    scratch = tempfile.mkdtemp(prefix="sd-bench-outbox-")
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{scratch}/bench.sqlite3"
    ensure_database(database_url)
    env = {**os.environ, "DATABASE_URL": database_url, "SERVICEDESK_DATA_DIR": scratch,
           "DJANGO_SETTINGS_MODULE": "servicedesk.settings", "SERVICEDESK_LOG_LEVEL": "WARNING"}  # fmt: skip
    os.environ.update(env)

    import django

    django.setup()
    from django.core.management import call_command

    from servicedesk.core.models import DeliveryAttempt, OutboxMessage, RowState, WorkerHeartbeat

    call_command("migrate", verbosity=0)
    OutboxMessage.objects.all().delete()
    WorkerHeartbeat.objects.filter(name__startswith="bench-").delete()
    secret = "bench-secret"
    ctx = multiprocessing.get_context("spawn")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, load {load}; "
          f"database: {database_url.split('://')[0]}; {args.workers} workers x "
          f"{args.concurrency} deliveries, batch {args.batch}")  # fmt: skip

    # Phase 1: a backlog of messages (say, after an outage), drained by the workers.
    receiver = Receiver(ctx, secret)
    enqueue_events(receiver.url, secret, args.messages // args.per_event, args.per_event)
    workers = start_workers(args, env)
    wait_started(args.workers)
    started = time.time()
    wait_drained()
    stop_workers(workers)
    print(f"phase 1: {args.messages} queued messages through {args.workers} workers")
    drain_rate, _ = report(receiver.finish(), started)
    print(f"  delivered per second: {drain_rate:.0f}")

    # Phase 2: live traffic; latency from the event's commit to the receiver.
    OutboxMessage.objects.all().delete()
    receiver = Receiver(ctx, secret)
    workers = start_workers(args, env)
    wait_started(args.workers)
    # Live traffic well below capacity, as a desk sees it: latency, not queueing, is measured.
    rate = args.rate or max(1.0, drain_rate / 4 / args.per_event)
    events = args.live_messages // args.per_event
    started = enqueue_events(receiver.url, secret, events, args.per_event, rate=rate,
                             threads=args.producers)  # fmt: skip
    produced = time.time()
    wait_drained()
    stop_workers(workers)
    print(f"phase 2: {events * args.per_event} messages in {events} events at {rate:.0f} "
          f"events/s (achieved {events / (produced - started):.0f}/s)")  # fmt: skip
    live_rate, latencies = report(receiver.finish(), started)
    print(f"  delivered per second: {live_rate:.0f}")
    print(f"  event -> delivery: p50 {percentile(latencies, 0.5) * 1000:.0f} ms, "
          f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms")  # fmt: skip
    undelivered = OutboxMessage.objects.exclude(state=RowState.DONE).count()
    print(
        f"  undelivered {undelivered}; failed attempts {DeliveryAttempt.objects.filter(ok=False).count()}"
    )

    # Baseline: the same POSTs straight to a receiver, as many threads as deliveries.
    receiver = Receiver(ctx, secret)
    threads = args.workers * args.concurrency
    baseline = direct_baseline(receiver.url, args.messages, threads)
    receiver.finish()
    print(
        f"baseline: direct POSTs from {threads} threads, no outbox: {baseline:.0f}/s; "
        f"outbox (phase 1) / baseline: {drain_rate / baseline:.2f}"
    )


if __name__ == "__main__":
    main()
