"""The auditor: what `servicedesk doctor` and `/api/v1/health` report."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Min

from . import clock, registry
from .models import DueItem, OutboxMessage, RowState, WorkerHeartbeat

# A row this late past its due time means no worker is keeping up.
OVERDUE_GRACE = timedelta(seconds=60)
HEARTBEAT_STALE = timedelta(seconds=30)


_migrations_checked: tuple[float, int] | None = None


def pending_migrations(max_age: float = 60.0) -> int:
    """Unapplied migrations; loading the migration graph is slow, so the answer is
    kept for a minute per process (health checks are polled often)."""
    global _migrations_checked
    now = time.monotonic()
    if (
        _migrations_checked is None
        or now - _migrations_checked[0] > max_age
        or _migrations_checked[1]
    ):
        executor = MigrationExecutor(connection)
        _migrations_checked = (
            now,
            len(executor.migration_plan(executor.loader.graph.leaf_nodes())),
        )
    return _migrations_checked[1]


def health_report() -> dict[str, Any]:
    now = clock.now()
    late = now - OVERDUE_GRACE
    due_overdue = DueItem.objects.filter(
        state__in=[RowState.PENDING, RowState.LEASED], due_at__lt=late
    )
    overdue = due_overdue.aggregate(oldest=Min("scheduled_at"))
    outbox_late = OutboxMessage.objects.filter(state=RowState.PENDING, due_at__lt=late)
    workers = list(
        WorkerHeartbeat.objects.filter(seen_at__gte=now - HEARTBEAT_STALE).values_list(
            "name", flat=True
        )
    )
    report: dict[str, Any] = {
        "database": connection.vendor,
        "migrations_pending": pending_migrations(),
        "workers": workers,
        "due_overdue": due_overdue.count(),
        "due_oldest_overdue": overdue["oldest"].isoformat() if overdue["oldest"] else None,
        "due_failed": DueItem.objects.filter(state=RowState.FAILED).count(),
        "outbox_pending_late": outbox_late.count(),
        "outbox_failed": OutboxMessage.objects.filter(state=RowState.FAILED).count(),
        # Work the worker drains between due items (e.g. report facts to
        # recompute): a figure that keeps growing means the workers fall behind.
        "drain_backlog": {name: count() for name, count in sorted(registry.drain_backlogs.items())},
    }
    problems = []
    if report["migrations_pending"]:
        problems.append(f"{report['migrations_pending']} migrations not applied")
    if not workers:
        problems.append("no worker has reported in the last 30 seconds")
    if report["due_overdue"]:
        problems.append(f"{report['due_overdue']} due items are overdue")
    if report["due_failed"]:
        problems.append(f"{report['due_failed']} due items failed")
    if report["outbox_pending_late"]:
        problems.append(f"{report['outbox_pending_late']} outbox messages wait past their time")
    if report["outbox_failed"]:
        problems.append(f"{report['outbox_failed']} outbox messages failed permanently")
    report["status"] = "ok" if not problems else "degraded"
    report["problems"] = problems
    return report


def probe_workers(timeout: float) -> float | None:
    """Schedule a no-op step and wait for a worker to perform it: seconds taken, or None."""
    import uuid

    from .models import DueRun
    from .scheduling import schedule

    key = f"probe:{uuid.uuid4().hex}"
    started = time.monotonic()
    schedule(key=key, kind="core.probe", at=clock.now())
    try:
        while time.monotonic() - started < timeout:
            if DueRun.objects.filter(item__key=key).exists():
                return round(time.monotonic() - started, 3)
            time.sleep(0.1)
        return None
    finally:
        DueItem.objects.filter(key=key).delete()
