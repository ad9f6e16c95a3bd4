"""The auditor: `servicedesk doctor` and /api/v1/health."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from servicedesk.core import scheduling
from servicedesk.core.worker import Worker

pytestmark = pytest.mark.django_db


def test_health_reports_overdue_steps_and_missing_workers() -> None:
    body = Client().get("/api/v1/health").json()
    assert body["status"] == "degraded"
    assert "no worker has reported in the last 30 seconds" in body["problems"]
    Worker(name="alive").heartbeat()
    scheduling.schedule(key="late", kind="core.probe", at=timezone.now() - timedelta(minutes=5))
    body = Client().get("/api/v1/health").json()
    assert body["workers"] == ["alive"]
    assert body["due_overdue"] == 1
    assert body["problems"] == ["1 due items are overdue"]
    Worker(name="alive").run_due_once()
    body = Client().get("/api/v1/health").json()
    assert (body["status"], body["due_overdue"], body["migrations_pending"]) == ("ok", 0, 0)


def test_doctor_exits_non_zero_when_degraded(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        call_command("doctor")
    assert exit_info.value.code == 1
    assert "no worker has reported" in capsys.readouterr().out
    Worker(name="alive").heartbeat()
    call_command("doctor")
    assert "all good" in capsys.readouterr().out


def test_health_shows_the_report_facts_waiting_for_a_worker() -> None:
    from servicedesk.reports import pending

    Worker(name="alive").heartbeat()
    assert Client().get("/api/v1/health").json()["drain_backlog"] == {"reports.facts": 0}
    pending.mark([101, 102])
    pending.mark([101])  # a second change of the same incident: still one to recompute
    assert Client().get("/api/v1/health").json()["drain_backlog"] == {"reports.facts": 2}
    Worker(name="alive").run_drains_once()
    assert Client().get("/api/v1/health").json()["drain_backlog"] == {"reports.facts": 0}
