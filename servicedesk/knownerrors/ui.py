"""Error control in the web UI (docs/ui.md, "Slots"): the KEDB and fix projects
for support staff, published workarounds in the portal for end users, and
the incident page's panel of matching known errors with "apply workaround"."""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from servicedesk.incidents.models import IncidentEvent
from servicedesk.web.errors import known
from servicedesk.web.nav import NavItem, end_user, staff

NAV = [
    NavItem("known-errors", gettext_lazy("Known errors"), "knownerrors:list", order=40,
            visible=staff, active=("knownerrors:list", "knownerrors:detail", "knownerrors:fix")),
    NavItem("solutions", gettext_lazy("Solutions"), "knownerrors:solutions", order=30,
            visible=end_user, active=("knownerrors:solution",)),
]  # fmt: skip

# The panel loads its matches after the page (htmx), so it adds no query to the
# incident page's pinned budget.
INCIDENT_PANELS = ["knownerrors/_incident_panel.html"]


def _name(ref: Any) -> str:
    return str(ref["name"]) if isinstance(ref, dict) and ref.get("name") else "—"


def _applied(event: IncidentEvent) -> str:
    p = event.payload
    if p.get("resolved"):
        return _("Workaround of %(known_error)s applied; resolved by the known error") % {
            "known_error": _name(p["known_error"])
        }
    return _("Workaround of %(known_error)s applied") % {"known_error": _name(p["known_error"])}


OUTCOMES = {
    "fixed": gettext_lazy("fixed"),
    "accepted": gettext_lazy("accepted without fix"),
    "withdrawn": gettext_lazy("withdrawn"),
}


def _closed(event: IncidentEvent) -> str:
    p = event.payload
    outcome = OUTCOMES.get(p["outcome"], p["outcome"])
    text = _("Known error %(known_error)s closed (%(outcome)s)") % {
        "known_error": _name(p["known_error"]), "outcome": outcome,
    }  # fmt: skip
    if p.get("change_refs"):
        text += " — " + ", ".join(p["change_refs"])
    return text


TIMELINE = {"known_error_applied": _applied, "known_error_closed": _closed}


# The matching service says why a known error matched, in English (the API's
# words); the pages show the same reasons in the reader's language.
_REASONS: list[tuple[re.Pattern[str], Any]] = [
    (re.compile(r"^matched (?P<n>\d+) of (?P<m>\d+) search terms: (?P<words>.*)$"),
     gettext_lazy("matched %(n)s of %(m)s search terms: %(words)s")),
    (re.compile(r"^same error code: (?P<value>.*)$"), gettext_lazy("same error code: %(value)s")),
    (re.compile(r"^same configuration item: (?P<value>.*)$"),
     gettext_lazy("same configuration item: %(value)s")),
    (re.compile(r"^same service: (?P<value>.*)$"), gettext_lazy("same service: %(value)s")),
    (re.compile(r"^same technology: (?P<value>.*)$"), gettext_lazy("same technology: %(value)s")),
]  # fmt: skip


def reason_text(reason: str) -> str:
    """A match's reason in the reader's language (unknown ones as they are)."""
    return known(reason, _REASONS) or reason
