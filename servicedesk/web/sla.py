"""The SLA countdown shown on queues and the incident page.

The deadlines (``respond_by``, ``resolve_by``) are kept by the escalation
engine; this only reads them. Before the first response the response
deadline counts, afterwards the resolution deadline. The countdown turns
amber when a quarter of the time from opening to the deadline is left and
red once the deadline has passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from servicedesk.incidents.models import Incident

WARN_FRACTION = 0.25


@dataclass(frozen=True)
class Countdown:
    kind: str  # "respond" | "resolve"
    deadline: datetime
    start: datetime
    state: str  # "ok" | "warn" | "breach"
    remaining_seconds: int

    @property
    def label(self) -> str:
        return str(KIND_LABELS[self.kind])

    @property
    def text(self) -> str:
        return duration_text(self.remaining_seconds)


KIND_LABELS = {"respond": gettext_lazy("respond"), "resolve": gettext_lazy("resolve")}


def countdown(incident: Incident, now: datetime) -> Countdown | None:
    """The running deadline of an open incident, or None (closed, or no SLA set)."""
    if not incident.is_open:
        return None
    if incident.responded_at is None and incident.respond_by is not None:
        kind, deadline = "respond", incident.respond_by
    elif incident.resolve_by is not None:
        kind, deadline = "resolve", incident.resolve_by
    else:
        return None
    start = incident.opened_at
    remaining = (deadline - now).total_seconds()
    window = max((deadline - start).total_seconds(), 1.0)
    if remaining <= 0:
        state = "breach"
    elif remaining <= window * WARN_FRACTION:
        state = "warn"
    else:
        state = "ok"
    return Countdown(kind, deadline, start, state, int(remaining))


def duration_text(seconds: int, words: dict[str, str] | None = None) -> str:
    """``2 h 05 min``; ``overdue 12 min`` once past; the same words app.js uses.

    ``words`` is :func:`js_strings`, looked up once for a whole list."""
    w = words or js_strings()
    overdue = seconds <= 0
    total_minutes = abs(seconds) // 60
    days, rest = divmod(total_minutes, 60 * 24)
    hours, minutes = divmod(rest, 60)
    if days:
        text = w["days"] % {"d": days, "h": hours}
    elif hours:
        text = w["hours"] % {"h": hours, "m": f"{minutes:02d}"}
    else:
        text = w["minutes"] % {"m": minutes}
    return w["overdue"] % {"time": text} if overdue else text


def js_strings() -> dict[str, str]:
    """The countdown's words for app.js (keeps client and server text identical)."""
    return {
        "days": _("%(d)s d %(h)s h"),
        "hours": _("%(h)s h %(m)s min"),
        "minutes": _("%(m)s min"),
        "overdue": _("overdue %(time)s"),
        "failed": _(
            "That did not work: the server or the network failed. Reload the page and try again."
        ),
    }
