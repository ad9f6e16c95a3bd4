"""Escalation timers under load, on PostgreSQL (issue 3).

100,000 open incidents; 10,000 of them have an escalation step (Table 4,
severity 3: the 2nd line) falling due within one minute; two ``servicedesk
worker`` processes perform them. Prints the lateness of the fired steps (p50,
p99, max), the workers' CPU, the duplicates found, and the cost of one idle
poll with 10,000 and with 100,000 open incidents, with ratios to the targets
(p99 < 2 s, zero duplicates, idle poll flat).

Quiet hours are off (``SERVICEDESK_QUIET_HOURS=0``; ``--quiet-hours`` keeps
them): the steps' e-mails are then delivered during the run whatever the time
of day, the heavier case (in the evening they would be held till morning).

The rows are written in bulk in the shape the services give them (an
incident, its open assignment span, its clocks and one due item), so the
setup takes minutes, not hours; the steps are performed by the real worker
and engine.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sd_x .venv/bin/python bench/escalation.py

It works in its own database, ``<name>_bench`` (dropped and created).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOTAL = 100_000
HOT = 10_000
WINDOW = 60.0
WORKERS = 2


def bench_url(url: str) -> tuple[str, str, str]:
    """(bench database URL, its name, the maintenance URL)."""
    base, _, name = url.rpartition("/")
    name = name.split("?")[0] + "_bench"
    return f"{base}/{name}", name, f"{base}/postgres"


def recreate(maintenance: str, name: str) -> None:
    import psycopg

    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *[n for child in plan.get("Plans", []) for n in _nodes(child)]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--total", type=int, default=TOTAL)
    parser.add_argument("--hot", type=int, default=HOT)
    parser.add_argument(
        "--workers", type=int, default=WORKERS, help="worker processes (the issue: 2)"
    )
    parser.add_argument(
        "--chunk",
        type=int,
        default=10,
        help="due items per transaction (servicedesk worker --chunk; its default on PostgreSQL)",
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=None,
        help="rows claimed per poll (servicedesk worker --batch; default: the worker's)",
    )
    parser.add_argument(
        "--timeout", type=float, default=1800, help="seconds to wait for the hot steps"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="perform the hot steps in this process, due at once, and print where a step's "
        "CPU and statements go (instead of timing two workers)",
    )
    parser.add_argument("--sql", action="store_true", help="with --profile: print each statement")
    parser.add_argument(
        "--quiet-hours",
        action="store_true",
        help="keep quiet hours (non-urgent e-mail outside working hours waits for the morning)",
    )
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("bench/escalation.py needs DATABASE_URL to point at PostgreSQL")
    db_url, name, maintenance = bench_url(url)
    recreate(maintenance, name)
    os.environ["DATABASE_URL"] = db_url
    os.environ["SERVICEDESK_CONN_MAX_AGE"] = "0"
    if not args.quiet_hours:
        os.environ["SERVICEDESK_QUIET_HOURS"] = "0"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "servicedesk.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    run(args, db_url)


def run(args: Any, db_url: str) -> None:
    from django.db import connection, transaction
    from django.db.models import Q

    from servicedesk.accounts.models import SupportGroup
    from servicedesk.core import clock
    from servicedesk.core.leases import claim
    from servicedesk.core.models import DueItem, DueRun, OutboxMessage, RowState
    from servicedesk.escalation import engine, policies
    from servicedesk.escalation.models import EscalationPolicy, EscalationStep, IncidentEscalation
    from servicedesk.incidents.models import AssignmentSpan, Incident, IncidentEvent
    from servicedesk.testing.org import build_org

    org = build_org()
    policy = EscalationPolicy.objects.get(severity=3, scope="all", active=True)
    snap = policies.snapshot(policy)
    l2_offset = snap["steps"][1]["offset"]  # Table 4, severity 3: the 2nd line at +30 min
    desk = SupportGroup.objects.get(pk=org.service_desk.pk)
    techs = [org.network.pk, org.email.pk]
    now = clock.now()

    def insert(count: int, *, opened: Any, first: int, hot: bool) -> list[int]:
        """``count`` incidents opened at ``opened(i)``, accepted at once (the respond
        clock stopped). A hot one's next step is the 2nd line (+30 min); a cold
        one is at the 2nd line already and next hears of its clock at 50% of the
        resolution target (+4 h), so nothing but the hot steps falls due during
        the run."""
        ids: list[int] = []
        batch = 2000
        for lo in range(0, count, batch):
            rows = [
                Incident(
                    title=f"Bench incident {first + i}", reporter_id=org.reporter.pk,
                    technology_id=techs[i % 2], affected_users=3, severity=3, priority=3,
                    owner_group=desk, assigned_group=desk, support_level=1, status="new",
                    opened_at=opened(first + i), updated_at=now,
                )
                for i in range(lo, min(count, lo + batch))
            ]  # fmt: skip
            with transaction.atomic():
                made = Incident.objects.bulk_create(rows)
                AssignmentSpan.objects.bulk_create(
                    AssignmentSpan(incident=x, group=desk, support_level=1, started_at=x.opened_at)
                    for x in made
                )
                IncidentEscalation.objects.bulk_create(
                    IncidentEscalation(
                        incident=x, policy=policy, snapshot=snap, running_since=x.opened_at,
                        next_step=1 if hot else 2, thresholds={"respond": [], "resolve": []},
                        respond_stopped_at=x.opened_at, respond_elapsed=0.0,
                    )
                    for x in made
                )  # fmt: skip
                after = l2_offset if hot else snap["resolve_within"] // 2
                DueItem.objects.bulk_create(
                    DueItem(
                        key=engine.key(x.pk), kind=engine.KIND, payload={"incident": x.pk},
                        scheduled_at=x.opened_at + timedelta(seconds=after),
                        due_at=x.opened_at + timedelta(seconds=after),
                    )
                    for x in made
                )  # fmt: skip
            ids.extend(x.pk for x in made)
        return ids

    def idle_poll() -> float:
        """The cost of the worker's claim when nothing is due: the median of 15
        rounds of 40 polls (the machine is shared), and the pages PostgreSQL
        reads for it (independent of the load)."""
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
            cursor.execute(
                "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT id FROM core_dueitem "
                "WHERE state IN ('pending', 'leased') AND due_at <= now() "
                "ORDER BY due_at, id LIMIT 50 FOR UPDATE SKIP LOCKED"
            )
            plan = cursor.fetchone()[0][0]["Plan"]
        buffers = sum(
            n.get("Shared Hit Blocks", 0) + n.get("Shared Read Blocks", 0) for n in _nodes(plan)[:1]
        )
        index = next((n["Index Name"] for n in _nodes(plan) if n.get("Index Name")), "-")
        medians = []
        for _ in range(15):
            started = time.perf_counter()
            for _ in range(40):
                assert (
                    claim(DueItem, owner="bench", now=clock.now(), lease_seconds=60, limit=50) == []
                )
            medians.append((time.perf_counter() - started) / 40 * 1000)
        cost = statistics.median(medians)
        open_count = Incident.objects.filter(
            status__in=["new", "assigned", "in_progress", "pending"]
        ).count()
        active = DueItem.objects.filter(state__in=["pending", "leased"]).count()
        print(
            f"idle poll with {open_count:>7,} open incidents ({active:,} active due items): "
            f"{cost:.3f} ms, {buffers} buffers read, index {index}"
        )
        return cost

    print(f"setting up {args.total:,} open incidents (bulk, in the services' shape)...", flush=True)
    opened = lambda i: now  # noqa: E731
    first_cold = min(10_000, args.total - args.hot)
    insert(first_cold, opened=opened, first=0, hot=False)
    poll_10k = idle_poll()
    insert(args.total - args.hot - first_cold, opened=opened, first=first_cold, hot=False)
    # The hot ones are parked (their step due in 30 minutes) until they are armed.
    hot = insert(args.hot, opened=opened, first=args.total - args.hot, hot=True)
    poll_100k = idle_poll()

    # Arm: the hot incidents' 2nd-line step falls due within one minute from T0.
    start_at = clock.now() + timedelta(seconds=-WINDOW if args.profile else 15)
    spread = [timedelta(seconds=WINDOW * i / len(hot)) for i in range(len(hot))]
    due_by_id = {pk: start_at + d for pk, d in zip(hot, spread, strict=True)}
    with transaction.atomic(), connection.cursor() as cursor:
        for lo in range(0, len(hot), 2000):
            chunk = hot[lo : lo + 2000]
            values = [
                (pk, due_by_id[pk], due_by_id[pk] - timedelta(seconds=l2_offset)) for pk in chunk
            ]
            cursor.executemany(
                "UPDATE incidents_incident SET opened_at = %s WHERE id = %s",
                [(opened, pk) for pk, _, opened in values],
            )
            cursor.executemany(
                "UPDATE escalation_incidentescalation SET running_since = %s WHERE incident_id = %s",
                [(opened, pk) for pk, _, opened in values],
            )
            cursor.executemany(
                "UPDATE core_dueitem SET due_at = %s, scheduled_at = %s WHERE key = %s",
                [(due, due, engine.key(pk)) for pk, due, _ in values],
            )

    if args.profile:
        profile(args, len(hot))
        return
    # The workers run as in production: persistent connections (this process
    # alone drops its connection after each use, for the bench's own polling).
    env = {**os.environ, "DATABASE_URL": db_url, "SERVICEDESK_LOG_LEVEL": "WARNING"}
    env.pop("SERVICEDESK_CONN_MAX_AGE", None)
    command = [sys.executable, "-m", "servicedesk", "worker"]
    batch = ["--batch", str(args.batch)] if args.batch else []
    workers = [
        subprocess.Popen(
            [*command, "--name", f"bench-{n}", "--chunk", str(args.chunk), *batch],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for n in range(args.workers)
    ]
    time.sleep(3)
    cpu_before = [cpu_seconds(w.pid) for w in workers]
    wall_before = time.monotonic()
    hot_keys = [engine.key(pk) for pk in hot]
    deadline = time.monotonic() + args.timeout
    try:
        while time.monotonic() < deadline:
            fired = EscalationStep.objects.count()
            if fired >= len(hot):
                break
            time.sleep(1)
        wall = time.monotonic() - wall_before
        cpu_after = [cpu_seconds(w.pid) for w in workers]
        # The messages the steps queued: delivered by now, and how long the rest
        # take (while the timers run late, deliveries pause: timers first).
        about_hot = OutboxMessage.objects.filter(subject_type="incident", subject_id__in=hot)
        queued = about_hot.count()
        delivered_then = about_hot.filter(state=RowState.DONE).count()
        drained_in = None
        drain_started = time.monotonic()
        while time.monotonic() < drain_started + args.timeout:
            waiting = about_hot.filter(
                Q(state=RowState.LEASED) | Q(state=RowState.PENDING, due_at__lte=clock.now())
            )
            if not waiting.exists():
                drained_in = time.monotonic() - drain_started
                break
            time.sleep(0.5)
        held = about_hot.filter(state=RowState.PENDING).count()
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(timeout=60)

    runs = list(
        DueRun.objects.filter(item__key__in=hot_keys, scheduled_at__gte=start_at)
        .order_by("item_id", "performed_at")
        .values_list("item_id", "scheduled_at", "performed_at", "outcome")
    )
    first_runs: dict[int, float] = {}
    moments = []
    for item_id, scheduled, performed, outcome in runs:
        if outcome in ("rescheduled", "done") and item_id not in first_runs:
            first_runs[item_id] = (performed - scheduled).total_seconds()
            moments.append(performed)
    # Throughput while the steps were being performed (first to last).
    busy = (max(moments) - min(moments)).total_seconds() if len(moments) > 1 else 0.0
    lateness = list(first_runs.values())
    escalations = IncidentEvent.objects.filter(
        incident_id__in=hot, type="escalated", payload__automatic=True
    ).count()
    step_rows = EscalationStep.objects.filter(incident_id__in=hot).count()
    duplicates = (escalations - len(first_runs)) + (step_rows - len(first_runs))
    still_due = DueItem.objects.filter(
        key__in=hot_keys, state=RowState.PENDING, due_at__lte=start_at + timedelta(seconds=WINDOW)
    ).count()
    cpu = [a - b for a, b in zip(cpu_after, cpu_before, strict=True)]

    print()
    print(
        f"hot steps fired: {len(first_runs):,} of {len(hot):,} (window {WINDOW:.0f} s, "
        f"{args.workers} workers, {args.chunk} per transaction)"
    )
    if lateness:
        p50, p99, worst = pct(lateness, 50), pct(lateness, 99), max(lateness)
        print(
            f"lateness: p50 {p50:.3f} s, p99 {p99:.3f} s, max {worst:.3f} s, mean {statistics.mean(lateness):.3f} s"
        )
        print(f"  p99 / target (2 s): {p99 / 2:.2f}")
    print(f"duplicates: {duplicates} (escalated events {escalations:,}, step rows {step_rows:,})")
    print(f"still due at the end: {still_due}")
    print(f"worker CPU: {', '.join(f'{c:.1f} s' for c in cpu)} over {wall:.1f} s wall "
          f"({sum(cpu) / max(wall, 1e-9) * 100:.0f}% of one core); "
          f"{sum(cpu) / max(len(first_runs), 1) * 1000:.1f} ms CPU per step; "
          f"{len(first_runs) / max(busy, 1e-9):.1f} steps/s from the first to the last")  # fmt: skip
    drained = "not within the timeout" if drained_in is None else f"{drained_in:.1f} s later"
    print(f"messages the steps queued: {queued:,}; delivered when the last step had fired: "
          f"{delivered_then:,}; the rest delivered {drained}"
          f"{f' ({held:,} held for quiet hours)' if held else ''}")  # fmt: skip
    print(f"idle poll 100k / 10k: {poll_100k / poll_10k:.2f} (flat is 1.0)")
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    for w in workers:
        err = (w.stderr.read() if w.stderr else b"").decode(errors="replace").strip()
        if err:
            print(f"worker stderr: {err[-2000:]}")


def profile(args: Any, hot: int) -> None:
    """Perform the (already due) hot steps in process: statements of one chunk by
    table, then CPU per step with and without cProfile, then the profile."""
    import collections
    import cProfile
    import io
    import pstats
    import re

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bench.profiling import print_by_package
    from servicedesk.core.worker import Worker
    from servicedesk.escalation.models import EscalationStep

    worker = Worker(name="profile", chunk=args.chunk, batch=max(50, args.chunk))
    worker.run_drains_once()
    worker.perform_chunk(_claim(worker, args.chunk))  # fills the per-process caches
    with CaptureQueriesContext(connection) as captured:
        worker.perform_chunk(_claim(worker, args.chunk))
    print(f"# one chunk of {args.chunk} (caches warm): {len(captured.captured_queries)} statements")
    groups: collections.Counter[str] = collections.Counter()
    for q in captured.captured_queries:
        table = re.search(r'(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', q["sql"])
        groups[f"{q['sql'].split()[0]} {table.group(1) if table else ''}"] += 1
        if args.sql:
            print(f"    {q['sql'][:400]}")
    for name, count in groups.most_common():
        print(f"  {count:3d}  {name}")

    def perform(n: int) -> tuple[float, float]:
        before = EscalationStep.objects.count()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        while EscalationStep.objects.count() - before < n:
            claimed = _claim(worker, 50)
            if not claimed:
                break
            for lo in range(0, len(claimed), args.chunk):
                worker.perform_chunk(claimed[lo : lo + args.chunk])
            drained = worker.run_drains_once()
            while drained:
                drained = worker.run_drains_once()
        done = EscalationStep.objects.count() - before
        return (time.process_time() - cpu0) / done * 1000, (
            time.perf_counter() - wall0
        ) / done * 1000

    third = (hot - 2 * args.chunk) // 3
    cpu, wall = perform(third)
    print(
        f"# {third} steps (with their facts drained): {cpu:.1f} ms CPU, {wall:.1f} ms wall per step"
    )
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    perform(third)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(r"servicedesk", 45)
    stats.sort_stats("tottime").print_stats(25)
    print(out.getvalue())
    print_by_package(stats)


def _claim(worker: Any, limit: int) -> list[tuple[int, int]]:
    from servicedesk.core import clock
    from servicedesk.core.leases import claim
    from servicedesk.core.models import DueItem

    return claim(DueItem, owner=worker.name, now=clock.now(), lease_seconds=60, limit=limit)


if __name__ == "__main__":
    main()
