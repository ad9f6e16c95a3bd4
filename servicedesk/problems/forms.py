"""Forms of the problem pages. They parse and label input; the services decide."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from servicedesk.accounts.models import Role, SupportGroup, User
from servicedesk.incidents.models import parse_number as parse_incident_number
from servicedesk.web.forms import LongTextField, TextField, VersionedForm

from .models import KepnerTregoeRow
from .rca import MAX_DEPTH


class InvestigateForm(VersionedForm):
    comment = LongTextField(label=_("Comment"))


class DeferForm(VersionedForm):
    reason = LongTextField(label=_("Why is it deferred?"), required=True)


class RootCauseForm(VersionedForm):
    root_cause = LongTextField(label=_("Root cause"), required=True)
    symptoms = LongTextField(
        label=_("Symptoms"), help_text=_("What users and agents see; goes to the known error.")
    )
    create_known_error = forms.BooleanField(
        label=_("Record a known error"), required=False, initial=True
    )


class WorkaroundForm(VersionedForm):
    workaround = LongTextField(label=_("Workaround"), required=True)
    audience = forms.ChoiceField(
        label=_("Publish to"), widget=forms.RadioSelect, initial="support",
        choices=[("support", _("all support levels")),
                 ("portal", _("support levels and end users in the portal"))],
    )  # fmt: skip


class ResolveForm(VersionedForm):
    resolution = LongTextField(label=_("How was the problem resolved?"), required=True)


class CloseForm(VersionedForm):
    reason = LongTextField(
        label=_("Reason"), help_text=_("Needed when an unresolved problem is withdrawn.")
    )


class AssignForm(VersionedForm):
    group = forms.ModelChoiceField(
        label=_("Group"), queryset=SupportGroup.objects.filter(is_active=True, level__gte=2),
        required=False, empty_label="—",
    )  # fmt: skip
    assignee = forms.ModelChoiceField(
        label=_("Person"), required=False,
        queryset=User.objects.filter(is_active=True).exclude(role=Role.END_USER),
    )  # fmt: skip


class ReasonForm(VersionedForm):
    reason = LongTextField(label=_("Reason"))


class EditForm(VersionedForm):
    title = TextField(label=_("Title"), max_length=200, required=True)
    description = LongTextField(label=_("Description"))
    priority = forms.TypedChoiceField(
        label=_("Priority"), coerce=int, choices=[(n, str(n)) for n in range(1, 6)]
    )
    major = forms.BooleanField(label=_("Major problem"), required=False)
    users_affected = forms.IntegerField(label=_("Users affected"), min_value=0,
                                        max_value=100_000_000)  # fmt: skip
    business_impact = forms.TypedChoiceField(
        label=_("Business impact (0-5)"), coerce=int, choices=[(n, str(n)) for n in range(6)]
    )
    cost_estimate = forms.DecimalField(label=_("Cost of the problem"), min_value=0,
                                       max_digits=14, decimal_places=2)  # fmt: skip
    cause_estimate_hours = forms.IntegerField(
        label=_("Estimate to find the cause (hours)"), min_value=1, max_value=100_000
    )


class LinkForm(forms.Form):
    incident = TextField(label=_("Incident"), max_length=20, required=True,
                         help_text=_("Its number, e.g. INC-000042."))  # fmt: skip
    set_pending = forms.BooleanField(label=_("Set it pending on this problem"), required=False)
    comment = LongTextField(label=_("Comment"))

    def clean_incident(self) -> int:
        value = self.cleaned_data["incident"].strip()
        pk = parse_incident_number(value) if not value.isdigit() else int(value)
        if not pk or pk >= 2**31:
            raise forms.ValidationError(_("Give an incident number such as INC-000042."))
        return pk


# ---- root-cause analysis as text ------------------------------------------------------------
# The artefacts are edited as plain text, one entry a line, so an agent types
# them as fast as notes; the text is parsed into the service's structure.


class IshikawaForm(forms.Form):
    text = LongTextField(
        label=_("Causes"), max_length=20_000,
        help_text=_("A category on its own line ending with a colon (“Technology:”), its causes "
                    "below it starting with “-”; indent by two spaces for a sub-cause; "
                    "“*” instead of “-” marks a root cause."),
    )  # fmt: skip

    def clean_text(self) -> list[dict[str, Any]]:
        categories: list[dict[str, Any]] = []
        path: list[dict[str, Any]] = []  # the causes above the current line
        for number, raw in enumerate(self.cleaned_data["text"].splitlines(), start=1):
            if not raw.strip():
                continue
            line = raw.rstrip()
            stripped = line.lstrip()
            if stripped[0] not in "-*•":
                categories.append({"name": stripped.rstrip(":").strip(), "causes": []})
                path = []
                continue
            if not categories:
                raise forms.ValidationError(
                    _("Line %(n)s: start with a category (“People:”).") % {"n": number}
                )
            text = stripped[1:].strip()
            if not text:
                raise forms.ValidationError(_("Line %(n)s: the cause is empty.") % {"n": number})
            depth = min((len(line) - len(stripped)) // 2, len(path), MAX_DEPTH - 1)
            cause = {"text": text, "root_cause": stripped[0] == "*", "sub_causes": []}
            del path[depth:]
            (path[-1]["sub_causes"] if path else categories[-1]["causes"]).append(cause)
            path.append(cause)
        return categories


def ishikawa_text(categories: list[dict[str, Any]]) -> str:
    lines: list[str] = []

    def add(causes: list[dict[str, Any]], depth: int) -> None:
        for cause in causes:
            lines.append("  " * depth + ("* " if cause["root_cause"] else "- ") + cause["text"])
            add(cause["sub_causes"], depth + 1)

    for category in categories:
        lines.append(f"{category['name']}:")
        add(category["causes"], 0)
    return "\n".join(lines)


class FiveWhysForm(forms.Form):
    text = LongTextField(
        label=_("Why? — Because"), max_length=20_000,
        help_text=_("One step a line: the question, then “->” and the answer."),
    )  # fmt: skip

    def clean_text(self) -> list[dict[str, str]]:
        steps = []
        for number, line in enumerate(self.cleaned_data["text"].splitlines(), start=1):
            if not line.strip():
                continue
            why, arrow, because = line.partition("->")
            if not arrow or not why.strip() or not because.strip():
                raise forms.ValidationError(
                    _("Line %(n)s: write “why -> because”.") % {"n": number}
                )
            steps.append({"why": why.strip(), "because": because.strip()})
        return steps


def five_whys_text(steps: list[dict[str, Any]]) -> str:
    return "\n".join(f"{s['why']} -> {s['because']}" for s in steps)


KT_SPLIT = re.compile(r"\s*\|\s*")


class KepnerTregoeForm(forms.Form):
    text = LongTextField(
        label=_("IS / IS NOT"), max_length=20_000,
        help_text=_("One row a line: dimension (what, where, when, extent) | question | is | "
                    "is not | distinctions | changes."),
    )  # fmt: skip

    def clean_text(self) -> list[dict[str, str]]:
        rows = []
        for number, line in enumerate(self.cleaned_data["text"].splitlines(), start=1):
            if not line.strip():
                continue
            parts = [*KT_SPLIT.split(line.strip()), "", "", "", "", ""][:6]
            dimension = parts[0].lower()
            if dimension not in KepnerTregoeRow.Dimension.values:
                raise forms.ValidationError(
                    _("Line %(n)s: start with what, where, when or extent.") % {"n": number}
                )
            rows.append(dict(zip(("dimension", "question", "is", "is_not", "distinctions",
                                  "changes"), parts, strict=True)))  # fmt: skip
        return rows


def kepner_tregoe_text(rows: list[dict[str, Any]]) -> str:
    keys = ("dimension", "question", "is", "is_not", "distinctions", "changes")
    return "\n".join(" | ".join(str(r[k]).replace("|", "/") for k in keys) for r in rows)


class ReviewForm(forms.Form):
    went_well = LongTextField(label=_("What went well"))
    went_wrong = LongTextField(label=_("What went wrong"))
    lessons = LongTextField(label=_("Lessons"))
    action_title = TextField(label=_("Follow-up action"), max_length=200)
    action_owner = forms.ModelChoiceField(
        label=_("Its owner"), required=False, empty_label="—",
        queryset=User.objects.filter(is_active=True).exclude(role=Role.END_USER),
    )  # fmt: skip
    action_due = forms.DateTimeField(
        label=_("Due"), required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )  # fmt: skip

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("action_title") and not data.get("action_owner"):
            self.add_error("action_owner", _("Choose who owns the follow-up action."))
        return data
