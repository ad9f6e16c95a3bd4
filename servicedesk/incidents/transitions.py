"""The incident's status transition table, the single source of truth."""

from __future__ import annotations

from servicedesk.core.errors import IllegalTransition

from .models import Status

TRANSITIONS: dict[str, frozenset[str]] = {
    Status.NEW: frozenset({Status.ASSIGNED, Status.IN_PROGRESS, Status.PENDING, Status.RESOLVED, Status.CANCELLED}),
    Status.ASSIGNED: frozenset({Status.IN_PROGRESS, Status.PENDING, Status.RESOLVED, Status.CANCELLED}),
    Status.IN_PROGRESS: frozenset({Status.ASSIGNED, Status.PENDING, Status.RESOLVED, Status.CANCELLED}),
    Status.PENDING: frozenset({Status.ASSIGNED, Status.IN_PROGRESS, Status.RESOLVED, Status.CANCELLED}),
    # Reopening (the reporter rejects the resolution) goes back to work.
    Status.RESOLVED: frozenset({Status.CLOSED, Status.IN_PROGRESS}),
    Status.CLOSED: frozenset(),
    Status.CANCELLED: frozenset(),
}  # fmt: skip


def allowed_next(status: str) -> frozenset[str]:
    return TRANSITIONS[status]


def check(current: str, target: str) -> None:
    """Raise :class:`IllegalTransition` (HTTP 409) unless ``current -> target`` is allowed."""
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(current=current, target=target, allowed=TRANSITIONS[current])


def check_open(current: str, action: str) -> None:
    """Actions that keep working an incident (assign, escalate, ...) need an open one."""
    if current in (Status.RESOLVED, Status.CLOSED, Status.CANCELLED):
        raise IllegalTransition(current=current, target=action, allowed=TRANSITIONS[current])
