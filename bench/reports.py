"""Reports at scale: generate N incidents with realistic timelines, time every report.

    .venv/bin/python bench/reports.py --incidents 1000000 \
        --database-url postgres://postgres@127.0.0.1:5432/sd_reports_bench
    .venv/bin/python bench/reports.py --incidents 100000 --database-url sqlite:////tmp/bench.sqlite3

The database named is dropped and created afresh. Incidents, their timeline
events and assignment spans are written in bulk (COPY on PostgreSQL,
executemany on SQLite) exactly as the incident services would have written
them; the report facts are then computed by the product's own code
(``facts.rebuild``), the path ``servicedesk reports rebuild`` takes. Each report
is then run ``--repeat`` times over the default period (the last twelve
months) and over everything, and the p50 and max are printed with the
target (p50 <= 1 s on PostgreSQL at 1M incidents). Finally a late event is
appended to old incidents through the services' path to show the facts stay
exact and what that costs per event.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SEVERITIES = [1] * 2 + [2] * 8 + [3] * 60 + [4] * 30
TECHNOLOGIES = ["network", "servers", "applications", "email", "workplace", "databases"]
USER_GROUPS = [f"Department {n}" for n in range(12)]
TARGET_P50 = 1.0


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "sqlite:////tmp/servicedesk-bench-reports.sqlite3"),
    )
    parser.add_argument(
        "--problems", type=int, default=None,
        help="Problems to generate (default: one per 100 incidents).",
    )  # fmt: skip
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=2013)
    parser.add_argument("--keep", action="store_true", help="Reuse an existing bench database.")
    return parser.parse_args()


def fresh_database(url: str) -> None:
    if url.startswith("sqlite"):
        path = Path(url.split("sqlite:///", 1)[1])
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "servicedesk.settings")
    os.environ.setdefault("SERVICEDESK_LOG_LEVEL", "WARNING")
    import django

    django.setup()


# ---- the organisation -----------------------------------------------------------------------


def build_org() -> dict[str, Any]:
    from servicedesk.accounts.models import Role, SupportGroup, User
    from servicedesk.catalog.models import Service, Technology, UserGroup

    org: dict[str, Any] = {"groups": {}, "services": {}}
    desk = SupportGroup.objects.create(name="Service Desk", level=1)
    org["desk"] = desk
    for slug in TECHNOLOGIES:
        tech = Technology.objects.create(name=slug.title(), slug=slug)
        org["groups"][slug] = (
            SupportGroup.objects.create(
                name=f"{slug.title()} Operations", level=2, technology=tech
            ),
            SupportGroup.objects.create(
                name=f"{slug.title()} Engineering", level=3, technology=tech
            ),
        )
        org["services"][slug] = [
            Service.objects.create(name=f"{slug.title()} service {n}", technology=tech)
            for n in range(2)
        ]
        org.setdefault("technologies", {})[slug] = tech
    org["user_groups"] = [UserGroup.objects.create(name=name) for name in USER_GROUPS]
    org["reporter"] = User.objects.create(username="bench.user", role=Role.END_USER)
    return org


# ---- timelines ------------------------------------------------------------------------------


def ref(group: Any) -> dict[str, Any]:
    return {"id": group.pk, "name": group.name}


def story(
    rng: random.Random, pk: int, opened: datetime, now: datetime, org: dict[str, Any]
) -> tuple[list[Any], list[Any], list[Any]]:
    """One incident: its row, events and spans, the way the services write them."""
    tech = rng.choice(TECHNOLOGIES)
    ops, eng = org["groups"][tech]
    desk = org["desk"]
    service = rng.choice(org["services"][tech])
    user_group = rng.choice(org["user_groups"])
    severity = rng.choice(SEVERITIES)
    roll = rng.random()
    wrong = org["groups"][rng.choice([t for t in TECHNOLOGIES if t != tech])][0]
    path = (
        [desk] if roll < 0.60 else [desk, ops] if roll < 0.85
        else [desk, ops, eng] if roll < 0.95 else [desk, wrong, ops]
    )  # fmt: skip
    events: list[tuple[str, datetime, dict[str, Any]]] = []
    spans: list[list[Any]] = []
    t = opened
    events.append(("created", t, {
        "status": "new", "severity": severity, "priority": 3, "support_level": 1,
        "source": "phone", "affected_users": 1, "owner_group": ref(desk),
        "assigned_group": ref(desk), "assignee": None,
    }))  # fmt: skip
    spans.append([desk.pk, 1, t, None, ""])
    status = "new"
    scale = {1: 0.5, 2: 1.0, 3: 3.0, 4: 6.0}[severity]

    def step(hours: float) -> datetime:
        return t + timedelta(seconds=rng.expovariate(1 / (hours * 3600 * scale)) + 30)

    open_now = False
    reopened = False
    for index, group in enumerate(path):
        if index:
            t = step(0.5)
            if t > now:
                open_now = True
                break
            before = path[index - 1]
            spans[-1][3] = t
            spans[-1][4] = "escalated" if group.level > before.level else "reassigned"
            spans.append([group.pk, group.level, t, None, ""])
            if group.level > before.level:
                events.append(("escalated", t, {
                    "kind": "functional", "reason": "insufficient_knowledge", "comment": "",
                    "automatic": False, "from_level": before.level, "to_level": group.level,
                    "from_group": ref(before), "to_group": ref(group), "manager": None,
                    "chain_position": None, "status_from": status, "status_to": "assigned",
                }))  # fmt: skip
            else:
                events.append(("assigned", t, {
                    "from_group": ref(before), "to_group": ref(group), "from_assignee": None,
                    "to_assignee": None, "support_level": group.level, "status_from": status,
                    "status_to": "assigned",
                }))  # fmt: skip
            status = "assigned"
        t = step(0.2)
        if t > now:
            open_now = True
            break
        events.append(("status_changed", t, {"status_from": status, "status_to": "in_progress",
                                              "pending_reason": "", "comment": ""}))  # fmt: skip
        status = "in_progress"
        if rng.random() < 0.15:
            t = step(0.5)
            if t > now:
                open_now = True
                break
            reason = rng.choice(["awaiting_user", "awaiting_vendor", "awaiting_problem"])
            events.append(("status_changed", t, {"status_from": status, "status_to": "pending",
                                                  "pending_reason": reason, "comment": ""}))  # fmt: skip
            t = step(2.0)
            if t > now:
                open_now, status = True, "pending"
                break
            events.append(("status_changed", t, {"status_from": "pending", "status_to": "in_progress",
                                                  "pending_reason": "", "comment": ""}))  # fmt: skip
    resolved_at = closed_at = None
    satisfaction = None
    if not open_now:
        t = step(1.0)
        if t > now:
            open_now = True
        else:
            holder = next(g for g in path if g.pk == spans[-1][0])
            events.append(("resolved", t, {
                "status_from": status, "resolution_code": "workaround", "resolution": "Restored.",
                "support_level": holder.level, "group": ref(holder), "assignee": None,
            }))  # fmt: skip
            spans[-1][3], spans[-1][4] = t, "resolved"
            resolved_at, status = t, "resolved"
            if rng.random() < 0.03 and t + timedelta(hours=4) < now:
                reopened = True
                t = t + timedelta(hours=rng.uniform(0.5, 4))
                events.append(("reopened", t, {"reason": "Not fixed", "reopen_count": 1,
                                               "support_level": holder.level, "group": ref(holder)}))  # fmt: skip
                spans.append([holder.pk, holder.level, t, None, ""])
                t = step(1.0)
                if t > now:
                    open_now, status, resolved_at = True, "in_progress", None
                else:
                    events.append(("resolved", t, {
                        "status_from": "in_progress", "resolution_code": "permanent_fix",
                        "resolution": "Fixed.", "support_level": holder.level,
                        "group": ref(holder), "assignee": None,
                    }))  # fmt: skip
                    spans[-1][3], spans[-1][4] = t, "resolved"
                    resolved_at, status = t, "resolved"
            if status == "resolved" and t + timedelta(days=5) < now:
                closed_at = t + timedelta(hours=rng.uniform(1, 120))
                satisfaction = rng.choice([None, None, 3, 4, 4, 5, 5, 5, 2, 1])
                events.append(("closed", closed_at, {"automatic": satisfaction is None,
                                                     "satisfaction": satisfaction, "comment": ""}))  # fmt: skip
                status = "closed"
    current = next(g for g in (desk, ops, eng, wrong) if g.pk == spans[-1][0])
    last = max(e[1] for e in events)
    for _ in range(rng.randint(0, 3)):
        # Worklog entries: on the timeline, ignored by the facts.
        at = opened + (last - opened) * rng.random()
        events.append(("commented", at, {"comment_id": 0, "public": rng.random() < 0.5}))
    row = [
        pk,
        f"Bench incident {pk}",
        "",
        "phone",
        "",
        org["reporter"].pk,
        "",
        "",
        user_group.pk,
        service.pk,
        None,
        org["technologies"][tech].pk,
        None,
        1,
        "",
        2,
        2,
        severity,
        "",
        3,
        None,
        None,
        None,
        desk.pk,
        current.pk,
        None,
        None,
        current.level,
        status,
        "",
        "workaround" if resolved_at else "",
        "Restored." if resolved_at else "",
        satisfaction if status == "closed" else None,
        "",
        1 if reopened else 0,
        opened,
        None,
        resolved_at,
        closed_at,
        max(e[1] for e in events),
        len(events),
    ]
    return row, events, spans


INCIDENT_COLUMNS = [
    "id", "title", "description", "source", "external_ref", "reporter_id", "contact_phone",
    "contact_email", "user_group_id", "service_id", "configuration_item_id", "technology_id",
    "category_id", "affected_users", "business_impact", "impact", "urgency", "severity",
    "severity_reason", "priority", "expected_resolution_at", "respond_by", "resolve_by",
    "owner_group_id", "assigned_group_id", "assignee_id", "coordinator_id", "support_level",
    "status", "pending_reason", "resolution_code", "resolution", "satisfaction",
    "satisfaction_comment", "reopen_count", "opened_at", "responded_at", "resolved_at",
    "closed_at", "updated_at", "version",
]  # fmt: skip
EVENT_COLUMNS = ["id", "incident_id", "type", "actor_id", "at", "payload"]
SPAN_COLUMNS = ["id", "incident_id", "group_id", "support_level", "started_at", "ended_at",
                "end_reason"]  # fmt: skip


class Writer:
    """Bulk rows into one table: COPY on PostgreSQL, executemany on SQLite."""

    def __init__(self, table: str, columns: list[str]) -> None:
        from django.db import connection

        self.table, self.columns, self.connection = table, columns, connection
        self.rows: list[tuple[Any, ...]] = []
        self.count = 0

    def add(self, row: list[Any] | tuple[Any, ...]) -> None:
        self.rows.append(tuple(row))
        if len(self.rows) >= 20_000:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        cols = ", ".join(self.columns)
        with self.connection.cursor() as cursor:
            if self.connection.vendor == "postgresql":
                raw = cursor.cursor
                with raw.copy(f"COPY {self.table} ({cols}) FROM STDIN") as copy:
                    for row in self.rows:
                        copy.write_row(row)
            else:
                adapt = self.connection.ops.adapt_datetimefield_value
                rows = [
                    tuple(adapt(v) if isinstance(v, datetime) else v for v in row)
                    for row in self.rows
                ]
                marks = ", ".join(["%s"] * len(self.columns))
                cursor.executemany(f"INSERT INTO {self.table} ({cols}) VALUES ({marks})", rows)
        self.count += len(self.rows)
        self.rows = []


def generate(n: int, seed: int, now: datetime) -> dict[str, int]:
    from django.db import connection, transaction

    from servicedesk.incidents.models import Incident

    # The bench writes rows by hand: fail loudly if the model gained a column.
    assert [f.column for f in Incident._meta.concrete_fields] == INCIDENT_COLUMNS or set(
        f.column for f in Incident._meta.concrete_fields
    ) == set(INCIDENT_COLUMNS), "incidents_incident columns changed; update the bench"
    rng = random.Random(seed)
    org = build_org()
    incidents = Writer("incidents_incident", INCIDENT_COLUMNS)
    events = Writer("incidents_incidentevent", EVENT_COLUMNS)
    spans = Writer("incidents_assignmentspan", SPAN_COLUMNS)
    start = now - timedelta(days=730)
    event_id = span_id = 0
    # Opening times spread over two years, in order (ids follow time, as in life).
    opened = sorted(start + timedelta(seconds=rng.uniform(0, 730 * 86400)) for _ in range(n))
    with transaction.atomic():
        for pk, moment in enumerate(opened, start=1):
            row, evs, sps = story(rng, pk, moment, now, org)
            incidents.add(row)
            for kind, at, payload in sorted(evs, key=lambda e: e[1]):
                event_id += 1
                events.add((event_id, pk, kind, None, at, json.dumps(payload)))
            for group_id, level, started, ended, reason in sps:
                span_id += 1
                spans.add((span_id, pk, group_id, level, started, ended, reason))
            if pk % 100_000 == 0:
                print(f"  generated {pk:,} incidents", flush=True)
        for writer in (incidents, events, spans):
            writer.flush()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for table in (
                "incidents_incident",
                "incidents_incidentevent",
                "incidents_assignmentspan",
            ):
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
                )
            cursor.execute("ANALYZE")
    return {"incidents": incidents.count, "events": events.count, "spans": spans.count}


def later(rng: random.Random, t: datetime, hours: float) -> datetime:
    """A moment after ``t``: exponential with a mean of ``hours``."""
    return t + timedelta(hours=rng.expovariate(1 / hours))


def generate_problems(n: int, seed: int, now: datetime) -> dict[str, int]:
    """Problems with realistic timelines (events as the problem services write
    them): investigated, some escalated to the 3rd line, some deferred and
    resumed, most with the cause found, resolved and closed."""
    from servicedesk.accounts.models import SupportGroup
    from servicedesk.catalog.models import Technology, UserGroup
    from servicedesk.problems.models import Problem, ProblemEvent

    rng = random.Random(seed + 1)
    techs = list(Technology.objects.all())
    groups = {(g.technology_id, g.level): g for g in SupportGroup.objects.filter(level__gte=2)}
    user_groups = list(UserGroup.objects.all())
    start = now - timedelta(days=730)
    problems: list[Problem] = []
    timelines: list[list[tuple[str, datetime, dict[str, Any]]]] = []
    for _ in range(n):
        tech = rng.choice(techs)
        ops, eng = groups[(tech.pk, 2)], groups[(tech.pk, 3)]
        t = start + timedelta(seconds=rng.uniform(0, 730 * 86400))
        priority, estimate = rng.randint(1, 5), rng.choice((8, 16, 40))
        events = [("created", t, {
            "status": "new", "source": "manual", "priority": priority, "support_level": 2,
            "owner_group": ref(ops), "assigned_group": ref(ops),
            "cause_estimate_hours": estimate, "incidents": [], "candidate_id": None,
        })]  # fmt: skip
        status, group = "new", ops

        t = later(rng, t, 24)
        events.append(("status_changed", t, {"status_from": status,
                       "status_to": "under_investigation", "comment": ""}))  # fmt: skip
        status = "under_investigation"
        if rng.random() < 0.3:
            t = later(rng, t, 16)
            events.append(("escalated", t, {"from_level": 2, "to_level": 3,
                           "from_group": ref(ops), "to_group": ref(eng), "reason": ""}))  # fmt: skip
            group = eng
        if rng.random() < 0.2:
            t = later(rng, t, 8)
            events.append(("deferred", t, {"status_from": status, "reason": "bench"}))
            status = "deferred"
            if rng.random() < 0.7:
                t = later(rng, t, 24 * 14)
                events.append(("status_changed", t, {"status_from": "deferred",
                               "status_to": "under_investigation", "comment": ""}))  # fmt: skip
                status = "under_investigation"
        if status == "under_investigation" and rng.random() < 0.75:
            t = later(rng, t, estimate)
            events.append(("root_cause_found", t, {
                "status_from": status, "root_cause": "bench", "investigation_hours": 0,
                "cause_estimate_hours": estimate, "known_error": None,
            }))  # fmt: skip
            status = "root_cause_known"
            if rng.random() < 0.8:
                t = later(rng, t, 24 * 7)
                events.append(("resolved", t, {"status_from": status, "resolution": "bench"}))
                status = "resolved"
                t = later(rng, t, 24 * 3)
                events.append(("closed", t, {"status_from": status, "reason": ""}))
                status = "closed"
        events = [e for e in events if e[1] <= now]
        final = {"created": "new", "deferred": "deferred", "root_cause_found": "root_cause_known",
                 "resolved": "resolved", "closed": "closed"}  # fmt: skip
        last = events[-1]
        status = str(last[2].get("status_to") or final.get(last[0], status))
        opened_at = events[0][1]
        problems.append(Problem(
            title="Bench problem", source="manual", technology=tech, priority=priority,
            owner_group=ops, assigned_group=group, support_level=group.level, status=status,
            cause_estimate_hours=estimate, opened_at=opened_at, updated_at=events[-1][1],
        ))  # fmt: skip
        timelines.append(events)
    created = Problem.objects.bulk_create(problems, batch_size=2000)
    rows = [
        ProblemEvent(problem=problem, type=kind, at=at, payload=payload)
        for problem, events in zip(created, timelines, strict=True)
        for kind, at, payload in events
    ]
    ProblemEvent.objects.bulk_create(rows, batch_size=5000)
    through = Problem.user_groups.through
    through.objects.bulk_create(
        [through(problem_id=p.pk, usergroup_id=rng.choice(user_groups).pk) for p in created],
        batch_size=5000,
    )
    return {"problems": len(created), "problem_events": len(rows)}


def database_size() -> int:
    from django.conf import settings
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_database_size(current_database())")
            return int(cursor.fetchone()[0])
    path = Path(settings.DATABASES["default"]["NAME"])
    return sum(
        Path(f"{path}{s}").stat().st_size for s in ("", "-wal") if Path(f"{path}{s}").exists()
    )


def time_reports(repeat: int, now: datetime) -> list[tuple[str, str, float, float]]:
    from servicedesk.reports import registry
    from servicedesk.reports.params import build_params

    periods: dict[str, dict[str, Any]] = {
        "last 12 months": {},
        "all (2 years)": {"from": (now - timedelta(days=731)).date().isoformat()},
        "12 months, technology=network": {"technology": 1},
    }
    results = []
    for slug in registry.all_reports():
        for label, query in periods.items():
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                registry.run(slug, build_params(query, now=now))
                times.append(time.perf_counter() - started)
            results.append((slug, label, statistics.median(times), max(times)))
            print(
                f"  {slug:26} {label:30} p50 {results[-1][2]:7.3f} s   max {results[-1][3]:7.3f} s",
                flush=True,
            )
    return results


def late_events(count: int) -> float:
    """Record, late, that old closed incidents waited on the user for their first
    20 seconds (through append_event and the facts listener, as an integration would);
    check the facts moved by exactly that (every next change comes 30 s or more later); returns seconds per event."""
    from django.db import transaction

    from servicedesk.core import clock
    from servicedesk.incidents.models import Incident
    from servicedesk.incidents.services import append_event
    from servicedesk.reports.models import IncidentFact

    # Incidents no earlier run touched (a kept database keeps their late events).
    start = random.Random(time.time_ns()).randint(1, max(1, Incident.objects.count() - 10 * count))
    incidents = list(Incident.objects.filter(status="closed", pk__gte=start).order_by("id")[:count])
    before = dict(
        IncidentFact.objects.filter(incident__in=incidents).values_list(
            "incident_id", "sla_paused_seconds"
        )
    )
    started = time.perf_counter()
    for incident in incidents:
        with transaction.atomic():
            for offset, status_from, status_to, reason in (
                (1, "new", "pending", "awaiting_user"),
                (21, "pending", "new", ""),
            ):
                with clock.frozen_at(incident.opened_at + timedelta(seconds=offset)):
                    append_event(incident, "status_changed", actor=None, payload={
                        "status_from": status_from, "status_to": status_to,
                        "pending_reason": reason,
                    })  # fmt: skip
    per_event = (time.perf_counter() - started) / max(1, 2 * len(incidents))
    after = dict(
        IncidentFact.objects.filter(incident__in=incidents).values_list(
            "incident_id", "sla_paused_seconds"
        )
    )
    assert all(after[pk] == before[pk] + 20 for pk in before), "facts not exact after late events"
    return per_event


def main() -> None:
    args = parse()
    if not args.keep:
        fresh_database(args.database_url)
    setup_django(args.database_url)
    from django.core.management import call_command
    from django.db import connection

    from servicedesk.incidents.models import Incident
    from servicedesk.reports import facts

    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    print(
        f"database: {connection.vendor} ({args.database_url}); incidents: {args.incidents:,}",
        flush=True,
    )
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    migrate_s = time.perf_counter() - started
    if args.keep and Incident.objects.exists():
        from servicedesk.reports import rollup
        from servicedesk.reports.models import MonthlyCount

        counts = {"incidents": Incident.objects.count()}
        generation_s = facts_s = 0.0
        if not MonthlyCount.objects.exists():
            started = time.perf_counter()
            cells = rollup.rebuild()
            print(f"monthly counts ({cells} cells) in {time.perf_counter() - started:.1f} s")
    else:
        started = time.perf_counter()
        counts = generate(args.incidents, args.seed, now)
        generation_s = time.perf_counter() - started
        print(f"generated {counts} in {generation_s:.1f} s", flush=True)
        started = time.perf_counter()
        problem_counts = generate_problems(
            args.incidents // 100 if args.problems is None else args.problems, args.seed, now
        )
        counts.update(problem_counts)
        print(f"generated {problem_counts} in {time.perf_counter() - started:.1f} s", flush=True)
        started = time.perf_counter()
        from servicedesk.core import clock

        def progress(done: int, total: int) -> None:
            if done % 100_000 == 0:
                print(f"  facts {done:,}/{total:,}", flush=True)

        with clock.frozen_at(now):
            facts.rebuild(progress=progress)
        facts_s = time.perf_counter() - started
        print(f"facts computed in {facts_s:.1f} s", flush=True)
    if connection.vendor == "postgresql":
        # What autovacuum does in production after a bulk load: statistics, and the
        # visibility map that lets the covering indexes answer alone.
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE) reports_incidentfact")
            cursor.execute("VACUUM (ANALYZE) reports_incidentgroupfact")
        print(f"vacuum analyze in {time.perf_counter() - started:.1f} s", flush=True)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = database_size()
    print(f"database size: {size / 2**20:,.0f} MiB", flush=True)
    print("report timings:")
    results = time_reports(args.repeat, now)
    per_event = late_events(200)
    worst = max(r[2] for r in results)
    print()
    print(
        f"migrate {migrate_s:.1f} s; generation {generation_s:.1f} s ({counts}); facts {facts_s:.1f} s"
    )
    print(f"database size {size / 2**20:,.0f} MiB")
    print(f"late events through the facts listener: exact; {per_event * 1000:.1f} ms per event")
    print(
        f"slowest report p50 {worst:.3f} s; target p50 <= {TARGET_P50:.1f} s "
        f"(ratio to target {worst / TARGET_P50:.2f})"
    )


if __name__ == "__main__":
    main()
