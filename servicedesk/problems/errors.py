"""Problem control's service errors in the user's language, next to their field
(the pattern of ``web/errors.py``: a known English message is replaced by a
translatable one, an unknown one is shown as it is)."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from servicedesk.core.errors import IllegalTransition, ServiceError
from servicedesk.web import errors as web_errors

from .models import Status

_MESSAGES: list[tuple[re.Pattern[str], Any]] = [
    (re.compile(p), t)
    for p, t in [
        (r"^The problem was changed by someone else",
         gettext_lazy("Someone else changed the problem meanwhile. Reload the page and try again.")),
        (r"^You may not work on this problem",
         gettext_lazy("You may not work on this problem: you are not in its groups or team.")),
        (r"^Only problem managers and managers may ",
         gettext_lazy("Only problem managers and managers may do this.")),
        (r"^Only 2nd- and 3rd-line staff and problem managers may ",
         gettext_lazy("Only 2nd- and 3rd-line staff and problem managers may do this.")),
        (r"^say why the problem is deferred$", gettext_lazy("Say why the problem is deferred.")),
        (r"^say why an unresolved problem is closed$",
         gettext_lazy("Say why an unresolved problem is closed.")),
        (r"^describe the root cause$", gettext_lazy("Describe the root cause.")),
        (r"^describe the workaround$", gettext_lazy("Describe the workaround.")),
        (r"^describe how the problem was resolved$",
         gettext_lazy("Describe how the problem was resolved.")),
        (r"^The problem is already at the 3rd line",
         gettext_lazy("The problem is already at the 3rd line, the last support level.")),
        (r"^Problems are owned by the 2nd line",
         gettext_lazy("Problems are owned by the 2nd line; it cannot go lower.")),
        (r"^The problem is closed\.$", gettext_lazy("The problem is closed.")),
        (r"^(?P<incident>INC-\d+) is already linked to (?P<problem>PRB-\d+)",
         gettext_lazy("%(incident)s is already linked to %(problem)s; unlink it first.")),
        (r"^no incident with id \d+$", gettext_lazy("There is no such incident.")),
        (r"^Incident \d+ is not linked to ", gettext_lazy("This incident is not linked here.")),
        (r"^must be between 1 and 100000 hours$", gettext_lazy("Between 1 and 100,000 hours.")),
        (r"^must be between 0 and 5$", gettext_lazy("Choose from 0 to 5.")),
        (r"^causes nest at most \d levels deep$",
         gettext_lazy("Causes nest at most three levels deep.")),
        (r"^at most \d+ (causes|steps|rows)$", gettext_lazy("Too many entries.")),
        (r"^every category needs a name$", gettext_lazy("Every category needs a name.")),
        (r"^record what went well, what went wrong or the lessons$",
         gettext_lazy("Record what went well, what went wrong or the lessons.")),
    ]
]  # fmt: skip


def message(error: ServiceError) -> str:
    if isinstance(error, IllegalTransition):
        current = error.extra.get("status", "")
        named = set(error.extra.get("allowed", []))
        allowed = [str(s.label) for s in Status if s.value in named]
        label = str(Status(current).label) if current in Status else current
        if allowed:
            return _("Not possible while the problem is %(status)s (next: %(allowed)s).") % {
                "status": label, "allowed": ", ".join(allowed),
            }  # fmt: skip
        return _("Not possible while the problem is %(status)s.") % {"status": label}
    return web_errors.known(error.message, _MESSAGES) or web_errors.message(error)


def attach(form: forms.Form, error: ServiceError, aliases: dict[str, str] | None = None) -> None:
    """Put the service error next to its field in ``form``, in problem control's words."""
    web_errors.attach(form, error, aliases, describe=message)
