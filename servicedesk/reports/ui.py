"""The reports' pages in the navigation (see servicedesk/web/nav.py and docs/ui.md)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from servicedesk.web.nav import NavItem, staff

NAV: list[NavItem] = [
    NavItem("reports", _("Reports"), "reports:dashboard", 60, staff, ("reports:",)),
]
