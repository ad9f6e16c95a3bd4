"""The worker's handler of acknowledgement timeouts."""

from __future__ import annotations

from servicedesk.core.models import DueItem
from servicedesk.core.registry import DueOutcome, Reschedule, Skipped, due_handler

from . import services


@due_handler(services.PAGE_TIMEOUT_KIND)
def page_next_responder(item: DueItem) -> DueOutcome:
    """Nobody acknowledged in time: page the next responder (or give up)."""
    outcome, next_at = services.page_timeout(int(item.payload["page"]))
    if outcome == "skipped":
        return Skipped("the page was acknowledged or cancelled")
    if next_at is not None:
        return Reschedule(at=next_at, detail=outcome)
    return None
