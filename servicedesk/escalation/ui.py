"""The escalation engine in the web UI: the incident page's "Escalation plan"
panel and the timeline lines of the engine's events (docs/ui.md, "Slots").

The panel is loaded by htmx from ``escalation:plan`` when the incident page
(or its swapped main region) appears, so the incident page's own query budget
does not carry the plan; without JavaScript it is a link to the same plan as
a page.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from servicedesk.accounts.models import SupportLevel
from servicedesk.incidents.models import IncidentEvent

INCIDENT_PANELS = ["escalation/_plan_panel.html"]


def _name(ref: Any) -> str:
    return str(ref["name"]) if isinstance(ref, dict) and ref.get("name") else "—"


def clock_label(name: str) -> str:
    return _("Respond") if name == "respond" else _("Resolve")


def level_label(level: Any) -> str:
    try:
        return str(SupportLevel(int(level)).label)
    except (TypeError, ValueError):
        return str(level)


def step_label(kind: str, level: Any = None) -> str:
    """What a step does, in the reader's language."""
    if kind == "assign":
        return _("Assign to the %(level)s") % {"level": level_label(level)}
    if kind == "page":
        if level:
            return _("Page the on-call person of the %(level)s") % {"level": level_label(level)}
        return _("Page the on-call person of the assigned group")
    if kind == "notify_manager":
        return _("Notify the next manager (hierarchical)")
    if kind == "emergency_meeting":
        return _("Convene an emergency meeting")
    if kind == "webhook":
        return _("Call the outgoing webhook")
    return kind


def _threshold(e: IncidentEvent) -> str:
    p = e.payload
    if int(p.get("percent", 0)) >= 100:
        return _("The %(clock)s target was breached") % {"clock": clock_label(p.get("clock", ""))}
    return _("%(percent)s%% of the %(clock)s target used") % {
        "percent": p.get("percent"), "clock": clock_label(p.get("clock", "")),
    }  # fmt: skip


def _step(e: IncidentEvent) -> str:
    p = e.payload
    what = step_label(p.get("kind", ""), p.get("support_level"))
    state = p.get("state")
    if state == "skipped":
        return _("Escalation step %(n)s skipped: %(what)s") % {"n": p.get("step"), "what": what}
    if state == "failed":
        return _("Escalation step %(n)s failed: %(what)s (%(detail)s)") % {
            "n": p.get("step"), "what": what, "detail": p.get("detail", ""),
        }  # fmt: skip
    return _("Escalation step %(n)s: %(what)s") % {"n": p.get("step"), "what": what}


def _meeting(e: IncidentEvent) -> str:
    p = e.payload
    return _("Emergency meeting convened with %(count)s participants") % {
        "count": len(p.get("participants") or []),
    }  # fmt: skip


TIMELINE = {
    "sla_threshold": _threshold,
    "escalation_step": _step,
    "emergency_meeting": _meeting,
}
