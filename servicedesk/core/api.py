"""Health endpoint (no authentication: load balancers and monitors call it)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema

from .health import health_report

router = Router(tags=["health"])


class HealthOut(Schema):
    status: str
    problems: list[str]
    database: str
    migrations_pending: int
    workers: list[str]
    due_overdue: int
    due_oldest_overdue: str | None
    due_failed: int
    outbox_pending_late: int
    outbox_failed: int
    drain_backlog: dict[str, int] = Field(
        description="Rows waiting for the workers' drains, e.g. incidents whose report "
        "facts are to be recomputed (reports.facts)."
    )


@router.get("/health", response=HealthOut, auth=None)
def health(request: HttpRequest) -> Any:
    """Liveness and the auditor's findings: overdue timers, undelivered messages, workers."""
    return health_report()
