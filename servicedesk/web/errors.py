"""Service errors in the user's language, next to the field they are about.

The services raise ``core.errors`` exceptions with English messages (the API
returns them as they are). The UI shows them translated: each known message
is matched here and replaced by a translatable one; an unknown message is
shown unchanged rather than hidden.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from servicedesk.core.errors import FieldError, IllegalTransition, ServiceError
from servicedesk.incidents.models import Status

# (pattern of the service's English message, translatable replacement)
_MESSAGES: list[tuple[re.Pattern[str], Any]] = [
    (re.compile(p), t)
    for p, t in [
        (r"^Incident \d+ does not exist\.$", gettext_lazy("This incident does not exist.")),
        (r"^The incident was changed by someone else",
         gettext_lazy("Someone else changed the incident meanwhile. Reload the page and try again.")),
        (r"^You may not work on this incident",
         gettext_lazy("You may not work on this incident: it belongs to another group.")),
        (r"^Only support staff may ", gettext_lazy("Only support staff may do this.")),
        (r"^must be one of", gettext_lazy("Choose one of the offered values.")),
        (r"^must not be empty$", gettext_lazy("This field is required.")),
        (r"^an incident needs a reporter$", gettext_lazy("Choose the reporter.")),
        (r"^End users may only report incidents for themselves\.$",
         gettext_lazy("End users may only report incidents for themselves.")),
        (r"^say why the severity differs",
         gettext_lazy("Say why the severity differs from the number of blocked users.")),
        (r"^is not a member of (?P<group>.+)$", gettext_lazy("Not a member of %(group)s.")),
        (r"^this field cannot be changed here$", gettext_lazy("This field cannot be changed here.")),
        (r"^give a group, an assignee or both$", gettext_lazy("Choose a group, a person or both.")),
        (r"^must be an active member of support staff$",
         gettext_lazy("Choose an active member of support staff.")),
        (r"^this group is inactive$", gettext_lazy("This group is inactive.")),
        (r"^Only members of (?P<group>.+) may accept this incident\.$",
         gettext_lazy("Only members of %(group)s may accept this incident.")),
        (r"^The incident is already at the 3rd line",
         gettext_lazy("The incident is already at the 3rd line, the last support level.")),
        (r"^must be above the current support level$",
         gettext_lazy("Choose a level above the current one.")),
        (r"^No active support group at level (?P<level>\d) for (?P<what>.+)\.$",
         gettext_lazy("No active support group at level %(level)s for %(what)s.")),
        (r"^There is no further manager",
         gettext_lazy("There is no further manager in this incident's escalation chain.")),
        (r"^must be an active manager$", gettext_lazy("Choose an active manager.")),
        (r"^The incident is already at the 1st line\.$",
         gettext_lazy("The incident is already at the 1st line.")),
        (r"^describe how service was restored$",
         gettext_lazy("Describe how service was restored.")),
        (r"^Only the reporter or support staff may ",
         gettext_lazy("Only the reporter or support staff may do this.")),
        (r"^must be between 1 and 5$", gettext_lazy("Choose from 1 to 5.")),
        (r"^only the reporter rates", gettext_lazy("Only the reporter rates their satisfaction.")),
        (r"^Only a resolved incident can be reopened\.$",
         gettext_lazy("Only a resolved incident can be reopened.")),
        (r"^Internal notes are for support staff\.$",
         gettext_lazy("Internal notes are for support staff.")),
        (r"^The incident is closed; report a new one\.$",
         gettext_lazy("The incident is closed; report a new one.")),
        (r"^Tasks are added by people\.$", gettext_lazy("Tasks are added by people.")),
        (r"^You do not have permission", gettext_lazy("You do not have permission to do that.")),
        (r"^no .+ with id \d+$", gettext_lazy("This choice no longer exists.")),
        (r"^No active 1st-line support group",
         gettext_lazy("No active 1st-line support group is configured.")),
    ]
]  # fmt: skip


def message(error: ServiceError) -> str:
    """The error's message in the active language."""
    if isinstance(error, IllegalTransition):
        current = error.extra.get("status", "")
        named = set(error.extra.get("allowed", []))
        allowed = [str(s.label) for s in Status if s.value in named]  # in life-cycle order
        label = str(Status(current).label) if current in Status else current
        if allowed:
            return _("Not possible while the incident is %(status)s (next: %(allowed)s).") % {
                "status": label,
                "allowed": ", ".join(allowed),
            }
        return _("Not possible while the incident is %(status)s.") % {"status": label}
    return known(error.message, _MESSAGES) or error.message


def known(english: str, table: list[tuple[re.Pattern[str], Any]]) -> str | None:
    """The translation of an English text by the first pattern of ``table`` it
    matches (named groups fill the translation's placeholders), or None."""
    for pattern, text in table:
        match = pattern.match(english)
        if match:
            return str(text) % match.groupdict() if match.groupdict() else str(text)
    return None


def field_of(error: ServiceError) -> str | None:
    """The body field a FieldError names, if any."""
    if isinstance(error, FieldError) and len(error.loc) >= 2 and error.loc[0] == "body":
        return str(error.loc[1])
    return None


def attach(
    form: forms.Form, error: ServiceError, aliases: dict[str, str] | None = None,
    describe: Callable[[ServiceError], str] | None = None,
) -> None:  # fmt: skip
    """Put the service error next to its field in ``form`` (or on top of the form),
    in words of ``describe`` (a capability's own messages; these by default)."""
    text = (describe or message)(error)
    field = field_of(error)
    if field is not None and aliases:
        field = aliases.get(field, field)
    form.add_error(field if field is not None and field in form.fields else None, text)
