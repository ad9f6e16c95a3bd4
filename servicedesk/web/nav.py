"""The navigation bar: web's own entries plus each app's ``servicedesk.<app>.ui``.

Capabilities built in parallel (problems, known errors, on-call, reports,
notifications) slot their pages in without touching this app: a module
``servicedesk/<app>/ui.py`` with ``NAV: list[NavItem]`` adds links (and
``TIMELINE`` describes its incident event types, see ``timeline.py``), and
``servicedesk/<app>/urls.py`` (an ``app_name`` and ``urlpatterns``) is included
at the site root by ``servicedesk/web/urls.py``. See docs/ui.md.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import import_module
from typing import Any

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from servicedesk.accounts.models import User


def staff(user: User) -> bool:
    return bool(user.is_authenticated and (user.is_support_staff or user.is_superuser))


def end_user(user: User) -> bool:
    return bool(user.is_authenticated and not (user.is_support_staff or user.is_superuser))


def signed_in(user: User) -> bool:
    return bool(user.is_authenticated)


def admin_site(user: User) -> bool:
    return bool(user.is_authenticated and user.is_staff)


@dataclass(frozen=True)
class NavItem:
    """One link of the top navigation.

    ``url_name`` is reversed lazily (a capability whose URLs are not installed
    yet simply shows no link); ``active`` lists URL name prefixes that mark the
    item as the current section; lower ``order`` comes first. ``badge`` names a
    URL whose short text (e.g. an unread count) htmx loads into a badge beside
    the label once the page is shown, so a badge costs the page no query.
    """

    key: str
    label: Any  # a lazy translation
    url_name: str
    order: int = 100
    visible: Callable[[User], bool] = staff
    active: tuple[str, ...] = ()
    badge: str = ""


ITEMS: list[NavItem] = [
    NavItem("workspace", _("Workspace"), "web:workspace", 10, staff, ("web:workspace",)),
    NavItem("register", _("New incident"), "web:register", 20, staff, ("web:register",)),
    NavItem("portal", _("My incidents"), "web:portal", 10, end_user, ("web:portal",)),
    NavItem("portal-new", _("Report an incident"), "web:portal-new", 20, end_user, ()),
    NavItem("api", _("API"), "api:openapi-view", 900, staff, ()),
    NavItem("admin", _("Administration"), "admin:index", 910, admin_site, ()),
]

# Apps whose ui.py may contribute (the API's list, less the foundation's apps).
APPS = (
    "escalation", "oncall", "problems", "knownerrors", "notifications", "integrations", "reports",
)  # fmt: skip


@cache
def contributions() -> tuple[Any, ...]:
    """The ``ui`` modules of the apps that have one."""
    modules = []
    for app in APPS:
        try:
            modules.append(import_module(f"servicedesk.{app}.ui"))
        except ModuleNotFoundError as exc:
            if exc.name != f"servicedesk.{app}.ui":
                raise
    return tuple(modules)


@cache
def all_items() -> tuple[NavItem, ...]:
    items = list(ITEMS)
    for module in contributions():
        items.extend(getattr(module, "NAV", []))
    return tuple(sorted(items, key=lambda item: (item.order, item.key)))


@dataclass(frozen=True)
class Link:
    key: str
    label: str
    url: str
    current: bool
    badge_url: str = ""


def links_for(user: User, current_url_name: str) -> list[Link]:
    """The links ``user`` sees, with the one of the current section marked."""
    out = []
    for item in all_items():
        if not item.visible(user):
            continue
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:
            continue
        current = any(current_url_name.startswith(prefix) for prefix in item.active)
        badge_url = ""
        if item.badge:
            with contextlib.suppress(NoReverseMatch):
                badge_url = reverse(item.badge)
        out.append(Link(item.key, str(item.label), url, current, badge_url))
    return out
