"""Exactly-once escalation with real worker processes on PostgreSQL.

Three ``servicedesk worker`` processes perform thousands of due escalation
steps. One of them is caught *inside* a step's perform (a real row lock held
by the test makes its ``do_escalate`` wait) and killed with SIGKILL. Every
step must still fire exactly once: the killed worker's transaction rolls back,
its leases expire and the surviving workers perform what it held.

PostgreSQL only: SQLite runs one writer at a time, so there is no concurrent
perform to prove anything about. CI runs it on PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection, transaction

from servicedesk.core import clock
from servicedesk.core.models import DueItem, RowState
from servicedesk.escalation import engine, services
from servicedesk.escalation.models import (
    EmergencyMeeting,
    EscalationPolicy,
    EscalationStep,
    IncidentEscalation,
)
from servicedesk.incidents import services as incidents
from servicedesk.incidents.models import Incident, IncidentEvent
from servicedesk.oncall.models import Page
from servicedesk.reports import facts
from servicedesk.reports.models import IncidentFact, MonthlyCount, PendingFact
from servicedesk.testing.org import build_org

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        "postgresql" not in settings.DATABASES["default"]["ENGINE"],
        reason="concurrent workers need PostgreSQL (DATABASE_URL)",
    ),
]

INCIDENTS = 250
STEPS = 8  # per incident: 2,000 due steps
WORKERS = 3
LEASE_SECONDS = 4


def _dsn() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _start_worker(name: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ, "DATABASE_URL": _dsn(), "SERVICEDESK_LOG_LEVEL": "WARNING",
        "SERVICEDESK_CONN_MAX_AGE": "0",
    }  # fmt: skip
    handle = log.open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "servicedesk", "worker", "--name", name, "--poll", "0.1",
         "--batch", "10", "--lease", str(LEASE_SECONDS), "--concurrency", "1"],
        env=env, stdout=handle, stderr=subprocess.STDOUT,
    )  # fmt: skip


def _wait(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_every_step_fires_exactly_once_despite_a_killed_worker(tmp_path: Path) -> None:
    org = build_org()
    EscalationPolicy.objects.update(active=False)
    services.do_create_policy(
        actor=None,
        data=services.PolicyInput(
            name="Load test", severity=3, respond_within=86400, resolve_within=86400,
            # Every step has an effect that is not protected by a unique key:
            # a duplicate would show as an extra event, meeting or page.
            steps=[
                services.StepInput(kind="assign", support_level=2, after=0),
                services.StepInput(kind="notify_manager", after=1),
                services.StepInput(kind="assign", support_level=3, after=1),
                services.StepInput(kind="notify_manager", after=1),
                services.StepInput(kind="emergency_meeting", after=1, starts_in=0),
                services.StepInput(kind="notify_manager", after=1),
                services.StepInput(kind="page", support_level=2, after=1, ack_within=3600),
                services.StepInput(kind="emergency_meeting", after=1, starts_in=0),
            ],
        ),
    )  # fmt: skip
    start = clock.now()
    ids: list[int] = []
    for chunk in range(0, INCIDENTS, 50):
        with clock.frozen_at(start - timedelta(seconds=chunk // 50)), transaction.atomic():
            for i in range(chunk, chunk + 50):
                ids.append(
                        incidents.do_create_incident(
                            actor=org.desk_agent, title=f"Load {i}", reporter=org.reporter,
                            configuration_item=org.router if i % 2 else org.mail_server,
                            affected_users=3,
                        ).pk
                    )  # fmt: skip
    assert DueItem.objects.filter(key__startswith="escalation:").count() == INCIDENTS
    victim = ids[len(ids) // 2]

    # Hold the victim's assignment span: its first step's do_escalate will wait
    # for this lock, inside the worker's perform transaction.
    blocker = psycopg.connect(_dsn(), autocommit=False)
    blocker.execute(
        "SELECT id FROM incidents_assignmentspan WHERE incident_id = %s AND ended_at IS NULL FOR UPDATE",
        [victim],
    )
    workers = {f"w{n}": _start_worker(f"w{n}", tmp_path / f"w{n}.log") for n in range(WORKERS)}
    try:
        key = engine.key(victim)
        _wait(
            lambda: DueItem.objects.filter(key=key, state=RowState.LEASED).exists(), 120,
            "a worker to claim the victim",
        )  # fmt: skip
        owner = DueItem.objects.get(key=key).lease_owner
        waiting: list[tuple[str]] = []
        # A separate connection: activity statistics are frozen inside a transaction.
        monitor = psycopg.connect(_dsn(), autocommit=True)

        def blocked_in_perform() -> bool:
            waiting[:] = monitor.execute(
                "SELECT query FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query ILIKE %s",
                ["%incidents_assignmentspan%"],
            ).fetchall()
            return bool(waiting)

        _wait(blocked_in_perform, 60, "the victim's perform to wait on the span lock")
        monitor.close()
        assert "UPDATE" in waiting[0][0].upper()
        workers[owner].send_signal(signal.SIGKILL)
        workers[owner].wait(timeout=30)
        assert workers[owner].returncode == -signal.SIGKILL
        blocker.rollback()  # the killed worker's backend resumes, finds no client, rolls back

        def all_fired() -> bool:
            return (
                IncidentEscalation.objects.filter(pk__in=ids, next_step=STEPS).count() == INCIDENTS
                and not DueItem.objects.filter(
                    key__startswith="escalation:", state__in=[RowState.PENDING, RowState.LEASED],
                    scheduled_at__lte=clock.now(),
                ).exists()
            )  # fmt: skip

        _wait(all_fired, 300, "every step to fire")
        _wait(lambda: not PendingFact.objects.exists(), 120, "the report facts to catch up")
    finally:
        blocker.close()
        for process in workers.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in workers.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()

    logs = {name: (tmp_path / f"{name}.log").read_text(errors="replace") for name in workers}
    # Each step fired exactly once: one log row per (incident, step) ...
    assert EscalationStep.objects.filter(incident_id__in=ids).count() == INCIDENTS * STEPS
    per_step = Counter(EscalationStep.objects.values_list("incident_id", "index"))
    assert set(per_step.values()) == {1}
    # ... and each effect once (these rows have no unique constraint to hide behind).
    escalated = Counter(
        IncidentEvent.objects.filter(type="escalated", payload__automatic=True).values_list(
            "incident_id", flat=True
        )
    )
    assert len(escalated) == INCIDENTS and set(escalated.values()) == {5}, logs
    step_events = Counter(
        IncidentEvent.objects.filter(type="escalation_step").values_list("incident_id", flat=True)
    )
    assert set(step_events.values()) == {STEPS}
    meetings = Counter(EmergencyMeeting.objects.values_list("incident_id", flat=True))
    assert len(meetings) == INCIDENTS and set(meetings.values()) == {2}
    pages = Counter(Page.objects.values_list("incident_id", flat=True))
    assert len(pages) == INCIDENTS and set(pages.values()) == {1}
    paged = Counter(
        IncidentEvent.objects.filter(type="paged").values_list("incident_id", flat=True)
    )
    assert set(paged.values()) == {1}
    done = Incident.objects.filter(pk__in=ids, support_level=3, coordinator=org.cio).count()
    assert done == INCIDENTS
    # The victim's steps were performed by a surviving worker, after the kill.
    victim_steps = EscalationStep.objects.filter(incident_id=victim).order_by("index")
    assert [s.state for s in victim_steps] == ["done"] * STEPS
    runs = DueItem.objects.get(key=engine.key(victim)).runs.values_list("worker", flat=True)
    assert owner not in set(runs)
    # Nothing is left leased by the dead worker.
    assert not DueItem.objects.filter(lease_owner=owner, state=RowState.LEASED).exists()
    # The workers kept the report facts in batches, a killed one among them: they
    # are exactly what recomputing every incident from its timeline gives.
    kept = _report_state()
    facts.rebuild()
    assert _report_state() == kept


def _report_state() -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    fields = ("incident_id", "status", "current_level", "reached_l2", "reached_l3",
              "restore_seconds", "resolved_at")  # fmt: skip
    rows = list(IncidentFact.objects.order_by("incident_id").values_list(*fields))
    cells = sorted(
        MonthlyCount.objects.filter(n__gt=0).values_list(
            "kind", "month", "severity", "service", "technology", "user_group", "reached", "n"
        )
    )
    return rows, cells
