"""Problem control in the web UI (docs/ui.md, "Slots"): the portfolio board and
problem pages for support staff, the incident page's linked-problem panel and
the incident events problem control writes, in the reader's language."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from servicedesk.web.nav import NavItem, staff

from . import timeline

NAV = [
    NavItem("problems", _("Problems"), "problems:board", order=30, visible=staff,
            active=("problems:",)),
]  # fmt: skip

# Loaded after the page (htmx): no query against the incident page's pinned budget.
INCIDENT_PANELS = ["problems/_incident_panel.html"]

TIMELINE = {
    "problem_linked": timeline.incident_problem_linked,
    "problem_unlinked": timeline.incident_problem_unlinked,
    "workaround_available": timeline.incident_workaround_available,
}
