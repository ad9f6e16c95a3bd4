"""Forms of the pages. They parse and label input; the services decide."""

from __future__ import annotations

import zoneinfo
from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from servicedesk.accounts.models import Role, SupportGroup, User
from servicedesk.catalog.models import Category, ConfigurationItem, Partner, Service
from servicedesk.incidents.models import (
    EscalationKind,
    EscalationReason,
    Level3,
    PendingReason,
    ResolutionCode,
    Source,
)

TEXT_MAX = 100_000


def _no_nul(value: str) -> None:
    """Reject NUL characters here, before PostgreSQL would."""
    if "\x00" in value:
        raise forms.ValidationError(_("This text contains characters that are not allowed."))


class TextField(forms.CharField):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", TEXT_MAX)
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)
        self.validators.append(_no_nul)


class LongTextField(TextField):
    widget = forms.Textarea(attrs={"rows": 3})


def severity_choices() -> list[tuple[str, str]]:
    from servicedesk.incidents.models import SeverityBand

    bands = list(SeverityBand.objects.order_by("severity"))
    if bands:
        return [(str(b.severity), f"{b.severity}: {_(b.name)}") for b in bands]
    return [(str(s), str(s)) for s in (1, 2, 3, 4)]


# ---- registration (1st line) ----------------------------------------------------------


class RegisterForm(forms.Form):
    reporter = forms.ModelChoiceField(
        label=_("Reporter"), queryset=User.objects.filter(is_active=True),
        widget=forms.RadioSelect, error_messages={"required": _("Find and choose the reporter.")},
    )  # fmt: skip
    contact_phone = TextField(label=_("Contact phone"), max_length=40,
                              help_text=_("Leave empty to use the reporter's phone."))  # fmt: skip
    source = forms.ChoiceField(label=_("Received by"), choices=Source.choices, initial=Source.PHONE)
    title = TextField(label=_("Title"), max_length=200, required=True)
    description = LongTextField(label=_("Description"))
    service = forms.ModelChoiceField(
        label=_("Service"),
        queryset=Service.objects.filter(is_active=True),
        required=False,
        empty_label="—",
    )
    configuration_item = forms.ModelChoiceField(
        label=_("Configuration item"), required=False,
        queryset=ConfigurationItem.objects.filter(is_active=True), empty_label="—",
    )  # fmt: skip
    category = forms.ModelChoiceField(
        label=_("Category"), queryset=Category.objects.all(), required=False, empty_label="—"
    )
    affected_users = forms.IntegerField(
        label=_("Users unable to work"),
        min_value=0,
        max_value=100_000_000,
        initial=1,
    )
    business_impact = LongTextField(label=_("Business impact"))
    impact = forms.TypedChoiceField(label=_("Impact"), choices=Level3.choices, coerce=int,
                                    initial=Level3.MEDIUM)  # fmt: skip
    urgency = forms.TypedChoiceField(label=_("Urgency"), choices=Level3.choices, coerce=int,
                                     initial=Level3.MEDIUM)  # fmt: skip
    severity = forms.TypedChoiceField(
        label=_("Override severity"), required=False, coerce=int, empty_value=None,
    )  # fmt: skip
    severity_reason = TextField(label=_("Reason for the override"), max_length=200)
    assigned_group = forms.ModelChoiceField(
        label=_("Assign to group"), required=False,
        queryset=SupportGroup.objects.filter(is_active=True),
        help_text=_("Leave empty to keep it at the service desk."), empty_label="—",
    )  # fmt: skip
    # A known error chosen among the matches shown while registering: its
    # workaround is applied (and, with known_error_resolve, the incident resolved)
    # in the same transaction as the registration.
    known_error = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    known_error_resolve = forms.BooleanField(required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["severity"].choices = [("", _("from the blocked users")), *severity_choices()]  # type: ignore[attr-defined]


# ---- incident actions ---------------------------------------------------------------------


class VersionedForm(forms.Form):
    """Every action names the version the agent saw: a stale one changes nothing."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)


class AssignForm(VersionedForm):
    group = forms.ModelChoiceField(
        label=_("Group"),
        queryset=SupportGroup.objects.filter(is_active=True),
        required=False,
        empty_label="—",
    )
    assignee = forms.ModelChoiceField(
        label=_("Person"), required=False,
        queryset=User.objects.filter(is_active=True).exclude(role=Role.END_USER),
    )  # fmt: skip


class AcceptForm(VersionedForm):
    pass


class EscalateForm(VersionedForm):
    kind = forms.ChoiceField(label=_("Escalation"), choices=EscalationKind.choices,
                             initial=EscalationKind.FUNCTIONAL, widget=forms.RadioSelect)  # fmt: skip
    reason = forms.ChoiceField(label=_("Reason"), choices=EscalationReason.choices)
    comment = LongTextField(label=_("Comment"))


class DeEscalateForm(VersionedForm):
    reason = LongTextField(label=_("Reason"))


class PendingForm(VersionedForm):
    reason = forms.ChoiceField(label=_("Waiting for"), choices=PendingReason.choices)
    comment = LongTextField(label=_("Comment"))


class ResolveForm(VersionedForm):
    resolution_code = forms.ChoiceField(label=_("Resolution code"), choices=ResolutionCode.choices)
    resolution = LongTextField(label=_("How was service restored?"), required=True)


class CloseForm(VersionedForm):
    pass


class ReasonForm(VersionedForm):
    reason = LongTextField(label=_("Reason"))


class CommentForm(forms.Form):
    body = LongTextField(label=_("Comment"), required=True)
    public = forms.TypedChoiceField(
        label=_("Visible to"), coerce=lambda v: v == "1", initial="0", widget=forms.RadioSelect,
        choices=[("0", _("support staff (internal note)")), ("1", _("the reporter too (public)"))],
    )  # fmt: skip


class TaskForm(forms.Form):
    title = TextField(label=_("Task"), max_length=200, required=True)
    assignee = forms.ModelChoiceField(
        label=_("Person"), required=False,
        queryset=User.objects.filter(is_active=True).exclude(role=Role.END_USER),
    )  # fmt: skip
    partner = forms.ModelChoiceField(label=_("Partner"), queryset=Partner.objects.all(),
                                     required=False, empty_label="—")  # fmt: skip
    due_at = forms.DateTimeField(
        label=_("Due"), required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )  # fmt: skip


class EditForm(VersionedForm):
    title = TextField(label=_("Title"), max_length=200, required=True)
    description = LongTextField(label=_("Description"))
    contact_phone = TextField(label=_("Contact phone"), max_length=40)
    service = forms.ModelChoiceField(
        label=_("Service"),
        queryset=Service.objects.filter(is_active=True),
        required=False,
        empty_label="—",
    )
    configuration_item = forms.ModelChoiceField(
        label=_("Configuration item"), required=False,
        queryset=ConfigurationItem.objects.filter(is_active=True), empty_label="—",
    )  # fmt: skip
    category = forms.ModelChoiceField(label=_("Category"), queryset=Category.objects.all(),
                                      required=False, empty_label="—")  # fmt: skip
    affected_users = forms.IntegerField(label=_("Users unable to work"), min_value=0,
                                        max_value=100_000_000)  # fmt: skip
    business_impact = LongTextField(label=_("Business impact"))
    impact = forms.TypedChoiceField(label=_("Impact"), choices=Level3.choices, coerce=int)
    urgency = forms.TypedChoiceField(label=_("Urgency"), choices=Level3.choices, coerce=int)


# ---- workspace ----------------------------------------------------------------------------


class BulkForm(forms.Form):
    ids = forms.TypedMultipleChoiceField(coerce=int, required=True,
                                         error_messages={"required": _("Select incidents first.")})  # fmt: skip
    action = forms.ChoiceField(choices=[("assign", _("Assign")), ("escalate", _("Escalate"))])
    group = forms.ModelChoiceField(
        label=_("Group"),
        queryset=SupportGroup.objects.filter(is_active=True),
        required=False,
        empty_label="—",
    )
    reason = forms.ChoiceField(label=_("Reason"), choices=EscalationReason.choices, required=False)
    next = forms.CharField(required=False, max_length=2000)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Any ids: the services check each one, and report the ones that fail.
        self.fields["ids"].choices = [(v, v) for v in self.data.getlist("ids")] if self.data else []  # type: ignore[attr-defined]


# ---- portal ---------------------------------------------------------------------------------


class PortalReportForm(forms.Form):
    title = TextField(label=_("What does not work?"), max_length=200, required=True)
    description = LongTextField(label=_("Details"),
                                help_text=_("What were you doing, and what did you see?"))  # fmt: skip
    service = forms.ModelChoiceField(
        label=_("Service"), queryset=Service.objects.filter(is_active=True), required=False,
        empty_label=_("I don't know"),
    )  # fmt: skip
    affected_users = forms.IntegerField(
        label=_("How many people cannot work because of it?"), min_value=0,
        max_value=100_000_000, initial=1,
        help_text=_("0 if you can still work; 1 if it is only you."),
    )  # fmt: skip
    contact_phone = TextField(label=_("Phone to reach you"), max_length=40)


class PortalCommentForm(forms.Form):
    body = LongTextField(label=_("Add a comment"), required=True)


# The dash is a typographic en dash, as printed on rating scales.
SATISFACTION = [
    (5, _("5 – very satisfied")),  # noqa: RUF001
    (4, "4"), (3, "3"), (2, "2"),
    (1, _("1 – not satisfied")),  # noqa: RUF001
]  # fmt: skip


class PortalCloseForm(VersionedForm):
    satisfaction = forms.TypedChoiceField(
        label=_("How satisfied are you with the resolution?"), coerce=int, required=False,
        empty_value=None, widget=forms.RadioSelect,
        choices=SATISFACTION,
    )  # fmt: skip
    comment = LongTextField(label=_("Comment"))


class PortalReopenForm(VersionedForm):
    reason = LongTextField(label=_("What still does not work?"), required=True)


# ---- preferences ---------------------------------------------------------------------------


class PreferencesForm(forms.Form):
    language = forms.ChoiceField(label=_("Language"), required=False)
    time_zone = forms.ChoiceField(label=_("Time zone"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = [("", _("as my browser")), *settings.LANGUAGES]  # type: ignore[attr-defined]
        self.fields["time_zone"].choices = [  # type: ignore[attr-defined]
            (tz, tz) for tz in sorted(zoneinfo.available_timezones()) if "/" in tz or tz == "UTC"
        ]
