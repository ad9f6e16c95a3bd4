"""Status transition tables of known errors and fix projects."""

from __future__ import annotations

from servicedesk.core.errors import IllegalTransition

from .models import FixStatus, Status

TRANSITIONS: dict[str, frozenset[str]] = {
    Status.OPEN: frozenset({Status.FIX_IN_PROGRESS, Status.ACCEPTED, Status.CLOSED}),
    # A fix abandoned goes back to open; a fix that did not work back to in progress.
    Status.FIX_IN_PROGRESS: frozenset({Status.FIXED, Status.OPEN, Status.CLOSED}),
    Status.FIXED: frozenset({Status.CLOSED, Status.FIX_IN_PROGRESS}),
    Status.ACCEPTED: frozenset({Status.FIX_IN_PROGRESS, Status.CLOSED}),
    Status.CLOSED: frozenset(),
}

FIX_TRANSITIONS: dict[str, frozenset[str]] = {
    FixStatus.PROPOSED: frozenset({FixStatus.APPROVED, FixStatus.CANCELLED}),
    FixStatus.APPROVED: frozenset({FixStatus.IN_PROGRESS, FixStatus.CANCELLED}),
    FixStatus.IN_PROGRESS: frozenset({FixStatus.IMPLEMENTED, FixStatus.CANCELLED}),
    FixStatus.IMPLEMENTED: frozenset(),
    FixStatus.CANCELLED: frozenset(),
}


def check(current: str, target: str) -> None:
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(current=current, target=target, allowed=TRANSITIONS[current])


def check_fix(current: str, target: str) -> None:
    if target not in FIX_TRANSITIONS[current]:
        raise IllegalTransition(current=current, target=target, allowed=FIX_TRANSITIONS[current])
