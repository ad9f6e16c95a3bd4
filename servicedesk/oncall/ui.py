"""On-call in the web UI: the navigation entry and the timeline lines of paging
events (docs/ui.md, "Slots")."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from servicedesk.incidents.models import IncidentEvent
from servicedesk.web.nav import NavItem, staff


def _name(ref: object) -> str:
    return str(ref["name"]) if isinstance(ref, dict) and ref.get("name") else "—"


def _paged(e: IncidentEvent) -> str:
    p = e.payload
    return _("Paged %(person)s, on call for %(group)s (attempt %(attempt)s)") % {
        "person": _name(p.get("person")), "group": _name(p.get("group")),
        "attempt": p.get("attempt", 1),
    }  # fmt: skip


def _acknowledged(e: IncidentEvent) -> str:
    p = e.payload
    return _("%(person)s acknowledged the page for %(group)s") % {
        "person": _name(p.get("person")), "group": _name(p.get("group")),
    }  # fmt: skip


def _exhausted(e: IncidentEvent) -> str:
    p = e.payload
    return _("Nobody of %(group)s acknowledged the page (%(attempts)s attempts)") % {
        "group": _name(p.get("group")), "attempts": p.get("attempts", 0),
    }  # fmt: skip


NAV = [
    NavItem("oncall", gettext_lazy("On-call"), "oncall:now", order=40, visible=staff,
            active=("oncall:",)),
]  # fmt: skip

TIMELINE = {
    "paged": _paged,
    "page_acknowledged": _acknowledged,
    "page_exhausted": _exhausted,
}
