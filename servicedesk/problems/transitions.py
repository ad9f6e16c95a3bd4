"""The problem's status transition table, the single source of truth.

new -> under investigation -> root cause known -> resolved -> closed; a
problem not chosen for investigation is deferred (still tracked and
reportable) and can be resumed. A resolved problem that recurs goes back to
investigation; a cause that proves wrong reopens the investigation.
"""

from __future__ import annotations

from servicedesk.core.errors import IllegalTransition

from .models import Status

TRANSITIONS: dict[str, frozenset[str]] = {
    Status.NEW: frozenset({Status.UNDER_INVESTIGATION, Status.DEFERRED, Status.CLOSED}),
    Status.UNDER_INVESTIGATION: frozenset({Status.ROOT_CAUSE_KNOWN, Status.DEFERRED, Status.CLOSED}),
    Status.DEFERRED: frozenset({Status.UNDER_INVESTIGATION, Status.CLOSED}),
    Status.ROOT_CAUSE_KNOWN: frozenset({Status.RESOLVED, Status.UNDER_INVESTIGATION, Status.CLOSED}),
    Status.RESOLVED: frozenset({Status.CLOSED, Status.UNDER_INVESTIGATION}),
    Status.CLOSED: frozenset(),
}  # fmt: skip


def allowed_next(status: str) -> frozenset[str]:
    return TRANSITIONS[status]


def check(current: str, target: str) -> None:
    """Raise :class:`IllegalTransition` (HTTP 409) unless ``current -> target`` is allowed."""
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(current=current, target=target, allowed=TRANSITIONS[current])


def check_open(current: str, action: str) -> None:
    """Actions that keep working a problem (assign, escalate, ...) need an open one."""
    if current in (Status.RESOLVED, Status.CLOSED):
        raise IllegalTransition(current=current, target=action, allowed=TRANSITIONS[current])
