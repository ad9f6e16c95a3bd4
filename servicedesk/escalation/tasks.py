"""The worker's handler of escalation timers."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from servicedesk.core.models import DueItem
from servicedesk.core.registry import DueOutcome, due_handler, due_prepare

from . import engine


@due_handler(engine.KIND)
def fire_due_steps(item: DueItem) -> DueOutcome:
    """Fire the incident's due thresholds and steps; move to the next one."""
    return engine.perform(int(item.payload["incident"]))


@due_prepare(engine.KIND)
def lock_incidents(items: list[DueItem]) -> AbstractContextManager[Any]:
    """A chunk of escalation timers: lock and read their incidents in one statement."""
    return engine.prefetched([int(item.payload["incident"]) for item in items])
