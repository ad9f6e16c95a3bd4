"""One line of text per timeline event, in the reader's language.

Each incident event type has a describer: ``fn(event) -> str``. The
foundation's types are described here; a capability that registers its own
event types (``incidents.events.register``) describes them in
``servicedesk/<app>/ui.py`` as ``TIMELINE = {"type": fn}``. A type without a
describer is shown by its name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext as _

from servicedesk.accounts.models import SupportLevel
from servicedesk.incidents.models import (
    EscalationReason,
    IncidentEvent,
    PendingReason,
    ResolutionCode,
    Status,
)

from .nav import contributions

Describer = Callable[[IncidentEvent], str]


def _name(ref: Any) -> str:
    return str(ref["name"]) if isinstance(ref, dict) and ref.get("name") else "—"


def _label(choices: Any, value: Any) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value)


def _status(value: Any) -> str:
    return _label(Status, value)


def _created(e: IncidentEvent) -> str:
    p = e.payload
    return _("Registered with severity %(severity)s, priority %(priority)s, for %(group)s") % {
        "severity": p["severity"], "priority": p["priority"], "group": _name(p.get("assigned_group")),
    }  # fmt: skip


def _updated(e: IncidentEvent) -> str:
    from servicedesk.incidents.models import Incident

    names = []
    for field in e.payload.get("changes", {}):
        try:
            names.append(str(getattr(Incident._meta.get_field(field), "verbose_name", field)))
        except Exception:  # a field since removed: show its name
            names.append(field)
    return _("Changed: %(fields)s") % {"fields": ", ".join(names)}


def _severity(e: IncidentEvent) -> str:
    p = e.payload
    text = _("Severity %(from)s → %(to)s (%(users)s users blocked)") % {
        "from": p["from_severity"], "to": p["to_severity"], "users": p["affected_users"],
    }  # fmt: skip
    if p.get("reason"):
        text += " — " + p["reason"]
    return text


def _assigned(e: IncidentEvent) -> str:
    p = e.payload
    if p.get("to_assignee"):
        return _("Assigned to %(person)s (%(group)s)") % {
            "person": _name(p["to_assignee"]), "group": _name(p.get("to_group")),
        }  # fmt: skip
    return _("Assigned to %(group)s") % {"group": _name(p.get("to_group"))}


def _status_changed(e: IncidentEvent) -> str:
    p = e.payload
    text = _("Status %(from)s → %(to)s") % {
        "from": _status(p["status_from"]), "to": _status(p["status_to"]),
    }  # fmt: skip
    if p.get("pending_reason"):
        text += f" ({_label(PendingReason, p['pending_reason'])})"
    if p.get("comment"):
        text += " — " + p["comment"]
    return text


def _escalated(e: IncidentEvent) -> str:
    p = e.payload
    reason = _label(EscalationReason, p.get("reason"))
    if p.get("kind") == "hierarchical":
        text = _("Escalated hierarchically to %(manager)s: %(reason)s") % {
            "manager": _name(p.get("manager")), "reason": reason,
        }  # fmt: skip
    else:
        text = _("Escalated to the %(level)s (%(group)s): %(reason)s") % {
            "level": _label(SupportLevel, p.get("to_level")), "group": _name(p.get("to_group")),
            "reason": reason,
        }  # fmt: skip
    if p.get("automatic"):
        text += " " + _("(automatic)")
    if p.get("comment"):
        text += " — " + p["comment"]
    return text


def _de_escalated(e: IncidentEvent) -> str:
    p = e.payload
    text = _("Handed back to the %(level)s (%(group)s)") % {
        "level": _label(SupportLevel, p.get("to_level")), "group": _name(p.get("to_group")),
    }  # fmt: skip
    return text + (" — " + p["reason"] if p.get("reason") else "")


def _commented(e: IncidentEvent) -> str:
    return _("Public comment") if e.payload.get("public") else _("Internal note")


def _task_added(e: IncidentEvent) -> str:
    return _("Task added: %(title)s") % {"title": e.payload.get("title", "")}


def _task_done(e: IncidentEvent) -> str:
    return _("Task done: %(title)s") % {"title": e.payload.get("title", "")}


def _resolved(e: IncidentEvent) -> str:
    p = e.payload
    return _("Resolved (%(code)s): %(resolution)s") % {
        "code": _label(ResolutionCode, p.get("resolution_code")), "resolution": p.get("resolution", ""),
    }  # fmt: skip


def _closed(e: IncidentEvent) -> str:
    p = e.payload
    if p.get("automatic"):
        return _("Closed automatically after the confirmation period")
    if p.get("satisfaction"):
        return _("Closed; satisfaction %(score)s of 5") % {"score": p["satisfaction"]}
    return _("Closed")


def _reopened(e: IncidentEvent) -> str:
    reason = e.payload.get("reason")
    return _("Reopened") + (" — " + reason if reason else "")


def _cancelled(e: IncidentEvent) -> str:
    reason = e.payload.get("reason")
    return _("Cancelled") + (" — " + reason if reason else "")


DESCRIBERS: dict[str, Describer] = {
    "created": _created,
    "updated": _updated,
    "severity_changed": _severity,
    "assigned": _assigned,
    "status_changed": _status_changed,
    "escalated": _escalated,
    "de_escalated": _de_escalated,
    "commented": _commented,
    "task_added": _task_added,
    "task_done": _task_done,
    "resolved": _resolved,
    "closed": _closed,
    "reopened": _reopened,
    "cancelled": _cancelled,
}


def describer(event_type: str) -> Describer | None:
    found = DESCRIBERS.get(event_type)
    if found is None:
        for module in contributions():
            found = getattr(module, "TIMELINE", {}).get(event_type)
            if found is not None:
                break
    return found


def describe(event: IncidentEvent) -> str:
    fn = describer(event.type)
    if fn is None:
        return event.type.replace("_", " ")
    try:
        return fn(event)
    except (KeyError, TypeError, ValueError):
        # An old payload of a changed schema must not break the page.
        return event.type.replace("_", " ")
