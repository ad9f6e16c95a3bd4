"""One line of text per timeline event, in the reader's language: the problem's
own events (``events.py``) and the incident events problem control writes
(``incident_events.py``, shown on the incident page through ``ui.TIMELINE``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext as _

from servicedesk.accounts.models import SupportLevel

from .models import Problem, ProblemEvent, Status

Describer = Callable[[Any], str]


def _name(ref: Any) -> str:
    return str(ref["name"]) if isinstance(ref, dict) and ref.get("name") else "—"


def status_label(value: Any) -> str:
    try:
        return str(Status(value).label)
    except ValueError:
        return str(value)


def _level(value: Any) -> str:
    try:
        return str(SupportLevel(value).label)
    except ValueError:
        return str(value)


def _with(text: str, extra: Any) -> str:
    return f"{text} — {extra}" if extra else text


def _created(e: ProblemEvent) -> str:
    p = e.payload
    text = _("Opened with priority %(priority)s for %(group)s, estimate %(hours)s h") % {
        "priority": p["priority"], "group": _name(p.get("assigned_group") or p.get("owner_group")),
        "hours": p["cause_estimate_hours"],
    }  # fmt: skip
    if p.get("incidents"):
        text += " · " + _("incidents: %(list)s") % {
            "list": ", ".join(_name(i) for i in p["incidents"])
        }
    return text


def _updated(e: ProblemEvent) -> str:
    names = []
    for field in e.payload.get("changes", {}):
        try:
            names.append(str(getattr(Problem._meta.get_field(field), "verbose_name", field)))
        except Exception:  # a field since removed: show its name
            names.append(field)
    return _("Changed: %(fields)s") % {"fields": ", ".join(names)}


def _status_changed(e: ProblemEvent) -> str:
    p = e.payload
    if p["status_from"] == Status.DEFERRED:
        text = _("Investigation resumed")
    elif p["status_from"] in (Status.ROOT_CAUSE_KNOWN, Status.RESOLVED):
        text = _("Investigation reopened (was %(status)s)") % {
            "status": status_label(p["status_from"])
        }
    else:
        text = _("Investigation started")
    return _with(text, p.get("comment"))


def _assigned(e: ProblemEvent) -> str:
    p = e.payload
    if p.get("to_assignee"):
        return _("Assigned to %(person)s (%(group)s)") % {
            "person": _name(p["to_assignee"]), "group": _name(p.get("to_group")),
        }  # fmt: skip
    return _("Assigned to %(group)s") % {"group": _name(p.get("to_group"))}


def _escalated(e: ProblemEvent) -> str:
    p = e.payload
    text = _("Escalated to the %(level)s (%(group)s)") % {
        "level": _level(p["to_level"]), "group": _name(p.get("to_group")),
    }  # fmt: skip
    return _with(text, p.get("reason"))


def _de_escalated(e: ProblemEvent) -> str:
    p = e.payload
    text = _("Handed back to the %(level)s (%(group)s)") % {
        "level": _level(p["to_level"]), "group": _name(p.get("to_group")),
    }  # fmt: skip
    return _with(text, p.get("reason"))


def _root_cause(e: ProblemEvent) -> str:
    p = e.payload
    text = _("Root cause found after %(hours)s h of %(estimate)s h estimated: %(cause)s") % {
        "hours": p["investigation_hours"], "estimate": p["cause_estimate_hours"],
        "cause": p["root_cause"],
    }  # fmt: skip
    if p.get("known_error"):
        text += " · " + _("known error %(ke)s") % {"ke": _name(p["known_error"])}
    return text


def _workaround(e: ProblemEvent) -> str:
    p = e.payload
    if p.get("audience") == "portal":
        return _("Workaround published to all support levels and the portal: %(text)s") % {
            "text": p["workaround"]
        }
    return _("Workaround published to all support levels: %(text)s") % {"text": p["workaround"]}


def _linked(e: ProblemEvent) -> str:
    p = e.payload
    text = _("Incident %(incident)s linked") % {"incident": _name(p["incident"])}
    if p.get("set_pending"):
        text += " · " + _("set pending on this problem")
    return _with(text, p.get("comment"))


def _unlinked(e: ProblemEvent) -> str:
    p = e.payload
    return _with(_("Incident %(incident)s unlinked") % {"incident": _name(p["incident"])},
                 p.get("comment"))  # fmt: skip


def _deferred(e: ProblemEvent) -> str:
    return _with(_("Deferred"), e.payload.get("reason"))


def _resolved(e: ProblemEvent) -> str:
    return _with(_("Resolved"), e.payload.get("resolution"))


def _closed(e: ProblemEvent) -> str:
    if e.payload.get("status_from") == Status.RESOLVED:
        return _with(_("Closed"), e.payload.get("reason"))
    return _with(_("Withdrawn"), e.payload.get("reason"))


def _rca(e: ProblemEvent) -> str:
    names = {
        "ishikawa": _("Ishikawa diagram"),
        "five_whys": _("5 whys"),
        "kepner_tregoe": _("Kepner-Tregoe specification"),
    }
    return _("%(artefact)s updated (%(entries)s entries)") % {
        "artefact": names.get(e.payload["artefact"], e.payload["artefact"]),
        "entries": e.payload["entries"],
    }


def _review(e: ProblemEvent) -> str:
    return _("Review recorded (%(count)s follow-up actions)") % {"count": e.payload["actions"]}


def _follow_up(e: ProblemEvent) -> str:
    return _("Follow-up action done: %(title)s") % {"title": e.payload["title"]}


DESCRIBERS: dict[str, Describer] = {
    "created": _created,
    "updated": _updated,
    "status_changed": _status_changed,
    "assigned": _assigned,
    "escalated": _escalated,
    "de_escalated": _de_escalated,
    "root_cause_found": _root_cause,
    "workaround_published": _workaround,
    "incident_linked": _linked,
    "incident_unlinked": _unlinked,
    "deferred": _deferred,
    "resolved": _resolved,
    "closed": _closed,
    "rca_updated": _rca,
    "review_recorded": _review,
    "follow_up_done": _follow_up,
}


def describe(event: ProblemEvent) -> str:
    describer = DESCRIBERS.get(event.type)
    if describer is None:
        return event.type
    try:
        return describer(event)
    except (KeyError, TypeError):  # an older payload shape: still show something
        return event.type


# ---- incident events written by problem control (the incident page's timeline) ----------


def incident_problem_linked(e: Any) -> str:
    text = _("Linked to problem %(problem)s") % {"problem": _name(e.payload.get("problem"))}
    if e.payload.get("set_pending"):
        text += " · " + _("waiting for it")
    return text


def incident_problem_unlinked(e: Any) -> str:
    return _("Unlinked from problem %(problem)s") % {"problem": _name(e.payload.get("problem"))}


def incident_workaround_available(e: Any) -> str:
    return _("Workaround available from problem %(problem)s: %(text)s") % {
        "problem": _name(e.payload.get("problem")), "text": e.payload.get("workaround", ""),
    }  # fmt: skip
