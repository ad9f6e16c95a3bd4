"""Communications in the web UI (docs/ui.md, "Slots"): the signed-in user's
in-app notifications (a navigation item with the unread count), and the
incident page's panel: watchers, hand-written status updates, action requests."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from servicedesk.incidents.models import IncidentEvent
from servicedesk.web.nav import NavItem, signed_in

NAV = [
    NavItem("notifications", gettext_lazy("Notifications"), "notifications:list", order=800,
            visible=signed_in, active=("notifications:",), badge="notifications:unread-count"),
]  # fmt: skip

# The panel loads after the page (htmx): no query against the incident page's budget.
INCIDENT_PANELS = ["notifications/_incident_panel.html"]


def _name(ref: Any) -> str:
    return str(ref["name"]) if isinstance(ref, dict) and ref.get("name") else "—"


def _status_update(event: IncidentEvent) -> str:
    p = event.payload
    return _("Status update sent to %(count)s recipients: %(text)s") % {
        "count": p["recipients"], "text": p["text"],
    }  # fmt: skip


def _overdue(event: IncidentEvent) -> str:
    p = event.payload
    return _("Action request overdue: %(addressee)s — %(action)s") % {
        "addressee": p["addressee"], "action": p["action"],
    }  # fmt: skip


def _done(event: IncidentEvent) -> str:
    p = event.payload
    text = _("Action request done: %(addressee)s — %(action)s") % {
        "addressee": p["addressee"], "action": p["action"],
    }  # fmt: skip
    if p.get("outcome") and p["outcome"] != "done":
        text += f" ({p['outcome']})"
    return text


TIMELINE = {
    "status_update_sent": _status_update,
    "action_request_overdue": _overdue,
    "action_request_done": _done,
}
