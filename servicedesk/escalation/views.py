"""The incident's escalation plan as a page and as the incident page's panel.

Everything shown is the engine's own answer (``selectors.incident_plan``: the
policy frozen into the incident, each step's due time from the clock and the
calendar, the steps' log); this module only labels it in the reader's
language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from servicedesk.core import clock
from servicedesk.core.errors import NotFound
from servicedesk.incidents import selectors as incident_selectors
from servicedesk.incidents.models import Incident, PendingReason
from servicedesk.oncall.models import Page
from servicedesk.web.views.base import htmx_target, page_or_fragment, staff_required, user_of

from . import selectors
from .models import EmergencyMeeting
from .ui import clock_label, step_label

STATES = {
    "pending": gettext_lazy("due"),
    "done": gettext_lazy("done"),
    "skipped": gettext_lazy("skipped"),
    "failed": gettext_lazy("failed"),
    "held": gettext_lazy("held"),
    "paused": gettext_lazy("paused"),
}
FLAGS = {
    "unreachable": gettext_lazy("already reached"),
    "overlap": gettext_lazy("overlaps an earlier step"),
    "out_of_order": gettext_lazy("falls due before an earlier step"),
    "after_resolve_target": gettext_lazy("after the resolution target"),
    "no_group": gettext_lazy("no group at that level"),
    "no_schedule": gettext_lazy("no on-call schedule: pages the manager"),
    "no_manager": gettext_lazy("no further manager"),
}


@dataclass
class StepRow:
    number: int
    label: str
    state: str
    state_label: str
    due_at: datetime | None
    performed_at: datetime | None
    detail: str
    flags: list[str] = field(default_factory=list)
    is_next: bool = False


def _pause_label(reason: str) -> str:
    try:
        return str(PendingReason(reason).label)
    except ValueError:
        return reason


def plan_context(incident: Incident) -> dict[str, Any]:
    """The plan as the templates show it."""
    plan = selectors.incident_plan(incident)
    rows = []
    for step in plan["steps"]:
        state = step["state"]
        # The engine's detail is English; show it where it explains an outcome
        # (skipped or failed), label the rest ourselves.
        detail = step["detail"] if state in ("skipped", "failed") else ""
        rows.append(StepRow(
            number=step["step"], label=step_label(step["kind"], step["support_level"]),
            state=state, state_label=str(STATES.get(state, state)), due_at=step["due_at"],
            performed_at=step["performed_at"], detail=detail,
            flags=[str(FLAGS.get(f, f)) for f in step["flags"]],
        ))  # fmt: skip
    upcoming = next((r for r in rows if r.state == "pending"), None)
    if upcoming is not None:
        upcoming.is_next = True
    generation = getattr(getattr(incident, "escalation", None), "generation", None)
    earlier = [
        {**h, "label": step_label(h["kind"], h["support_level"]),
         "state_label": str(STATES.get(h["state"], h["state"]))}
        for h in plan["history"] if generation is not None and h["generation"] < generation
    ]  # fmt: skip
    clocks = [{**c, "label": clock_label(c["name"])} for c in plan["clocks"]]
    meetings = list(
        EmergencyMeeting.objects.filter(incident=incident).prefetch_related("participants")
    )
    for meeting in meetings:
        # A bridge is a phone number or a link; only web links become links.
        meeting.bridge_url = (  # type: ignore[attr-defined]
            meeting.bridge if meeting.bridge.startswith(("https://", "http://")) else ""
        )
    pages = list(
        Page.objects.filter(incident=incident).select_related("group", "person", "acknowledged_by")
    )
    return {
        "incident": incident, "plan": plan, "steps": rows, "earlier": earlier, "clocks": clocks,
        "meetings": meetings, "pages": pages, "now_utc": clock.now(),
        "pause_label": _pause_label(plan["pause_reason"]) if plan["pause_reason"] else "",
    }  # fmt: skip


@staff_required
def plan(request: HttpRequest, pk: int) -> HttpResponse:
    """The plan: a fragment for the incident page's panel (htmx), else a page."""
    try:
        incident = incident_selectors.get_incident(user_of(request), pk)
    except NotFound:
        raise Http404(_("This incident does not exist.")) from None
    context = plan_context(incident)
    context["fragment"] = htmx_target(request) == "escalation-plan"
    return page_or_fragment(
        request, "escalation/plan_page.html", {"escalation-plan": "escalation/_plan.html"}, context
    )
