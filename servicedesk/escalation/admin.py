"""Administrators edit the escalation matrix and calendars here; the engine's
rows (clocks, fired steps, meetings) are read-only records."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from servicedesk.core.errors import FieldError

from . import calendars, services
from .models import (
    SCOPE_FIELDS,
    BusinessCalendar,
    EmergencyMeeting,
    EscalationPolicy,
    EscalationStep,
    IncidentEscalation,
    PolicyStep,
)


def _as_validation_error(exc: FieldError) -> forms.ValidationError:
    return forms.ValidationError({str(exc.loc[-1]): exc.message})


class BusinessCalendarForm(forms.ModelForm):
    class Meta:
        model = BusinessCalendar
        fields = ("name", "kind", "time_zone", "hours", "country", "subdivision", "extra_holidays",
                  "extra_workdays", "description")  # fmt: skip

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        row = BusinessCalendar(
            **{
                k: v
                for k, v in data.items()
                if k in {f.name for f in BusinessCalendar._meta.fields}
            }
        )
        try:
            row.spec()
        except (calendars.CalendarError, ValueError) as exc:
            raise forms.ValidationError(str(exc)) from None
        return data


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    form = BusinessCalendarForm
    list_display = ("name", "kind", "time_zone", "country")
    search_fields = ("name",)


class PolicyStepForm(forms.ModelForm):
    url = forms.URLField(required=False, max_length=500, assume_scheme="https")

    class Meta:
        model = PolicyStep
        fields = (
            "position",
            "kind",
            "support_level",
            "after",
            "ack_within",
            "starts_in",
            "bridge",
            "url",
            "secret",
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("kind") or self.cleaned_data.get("DELETE"):
            return data
        step = services.StepInput(
            kind=data["kind"], support_level=data.get("support_level"), after=data.get("after") or 0,
            ack_within=data.get("ack_within"), starts_in=data.get("starts_in"),
            bridge=data.get("bridge") or "", url=data.get("url") or "", secret=data.get("secret") or "",
        )  # fmt: skip
        try:
            services.check_step(step, ["step"])
        except FieldError as exc:
            raise _as_validation_error(exc) from None
        return data


class PolicyStepInline(admin.TabularInline):
    model = PolicyStep
    form = PolicyStepForm
    extra = 1
    ordering = ("position",)


class EscalationPolicyForm(forms.ModelForm):
    class Meta:
        model = EscalationPolicy
        fields = ("name", "severity", "scope", "configuration_item", "service", "technology",
                  "user_group", "calendar", "offsets", "respond_within", "resolve_within", "active",
                  "description")  # fmt: skip

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        scope = data.get("scope") or "all"
        targets = {name: data.get(name) for name in SCOPE_FIELDS if data.get(name) is not None}
        if scope != "all" and set(targets) != {scope}:
            raise forms.ValidationError(
                {scope: f"Choose the {scope.replace('_', ' ')} (and nothing else)."}
            )
        if scope == "all" and targets:
            raise forms.ValidationError("A policy for all incidents names no target.")
        policy = services.PolicyInput(
            name=data.get("name") or "", severity=data.get("severity") or 0,
            respond_within=data.get("respond_within") or 0,
            resolve_within=data.get("resolve_within") or 0, calendar=data.get("calendar"),
            scope=scope, target=targets.get(scope), offsets=data.get("offsets") or "per_step",
            active=bool(data.get("active")),
        )  # fmt: skip
        try:
            services.check_policy(policy, exclude_pk=self.instance.pk)
        except FieldError as exc:
            field = str(exc.loc[-1])
            raise forms.ValidationError(
                {field if field in self.fields else "__all__": exc.message}
            ) from None
        return data


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(admin.ModelAdmin):
    """The escalation matrix: one row per severity and scope, with ordered steps.
    Running incidents keep the plan they started with."""

    form = EscalationPolicyForm
    inlines = [PolicyStepInline]
    list_display = (
        "name",
        "severity",
        "scope",
        "calendar",
        "offsets",
        "respond_within",
        "resolve_within",
        "active",
    )
    list_filter = ("severity", "scope", "active")
    search_fields = ("name",)
    autocomplete_fields = ()

    def save_model(
        self, request: HttpRequest, obj: EscalationPolicy, form: Any, change: bool
    ) -> None:
        if change:
            obj.version += 1
        super().save_model(request, obj, form, change)


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(IncidentEscalation)
class IncidentEscalationAdmin(ReadOnly):
    list_display = (
        "incident",
        "policy",
        "status",
        "pause_reason",
        "next_step",
        "generation",
        "updated_at",
    )
    list_filter = ("status",)
    search_fields = ("incident__title",)


@admin.register(EscalationStep)
class EscalationStepAdmin(ReadOnly):
    list_display = (
        "incident",
        "policy_name",
        "index",
        "kind",
        "support_level",
        "state",
        "due_at",
        "performed_at",
    )
    list_filter = ("kind", "state")
    search_fields = ("incident__title", "detail")


@admin.register(EmergencyMeeting)
class EmergencyMeetingAdmin(ReadOnly):
    list_display = ("incident", "starts_at", "bridge", "created_at")
