"""Template filters of the escalation plan."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def duration(seconds: Any) -> str:
    """A span of clock time for people: "3 d 4 h", "2 h 05 min", "12 min", "40 s"
    (the sign is dropped: the template says "left" or "overdue")."""
    try:
        total = abs(int(float(seconds)))
    except (TypeError, ValueError):
        return ""
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    mins, secs = divmod(rest, 60)
    if days:
        return _("%(d)d d %(h)d h") % {"d": days, "h": hours}
    if hours:
        return _("%(h)d h %(m)02d min") % {"h": hours, "m": mins}
    if mins:
        return _("%(m)d min") % {"m": mins}
    return _("%(s)d s") % {"s": secs}


@register.filter
def negative(value: Any) -> bool:
    try:
        return float(value) < 0
    except (TypeError, ValueError):
        return False
