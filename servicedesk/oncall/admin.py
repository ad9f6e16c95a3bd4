"""On-call schedules (kept by each group's manager; administrators here) and pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from servicedesk.escalation.calendars import Calendar, CalendarError, zone

from .models import (
    OnCallLayer,
    OnCallMember,
    OnCallOverride,
    OnCallSchedule,
    Page,
    PageAttempt,
)


class OnCallScheduleForm(forms.ModelForm):
    class Meta:
        model = OnCallSchedule
        fields = ("group", "name", "time_zone", "description")

    def clean_time_zone(self) -> str:
        value = str(self.cleaned_data.get("time_zone") or "UTC")
        try:
            zone(value)
        except CalendarError as exc:
            raise forms.ValidationError(str(exc)) from None
        return value


class OnCallLayerForm(forms.ModelForm):
    class Meta:
        model = OnCallLayer
        fields = (
            "position",
            "name",
            "rotation",
            "shift_length",
            "starts_on",
            "handoff_time",
            "restriction",
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("rotation") == "custom" and (data.get("shift_length") or 0) < 3600:
            raise forms.ValidationError(
                {"shift_length": "A custom rotation's shifts last at least 3600 seconds."}
            )
        if data.get("restriction"):
            try:
                Calendar.business_hours(data["restriction"])
            except (CalendarError, AttributeError, TypeError, IndexError) as exc:
                raise forms.ValidationError({"restriction": str(exc)}) from None
        return data


class OnCallLayerInline(admin.StackedInline):
    model = OnCallLayer
    form = OnCallLayerForm
    extra = 0
    show_change_link = True


class OnCallOverrideInline(admin.TabularInline):
    model = OnCallOverride
    extra = 0
    fields = ("layer", "person", "starts_at", "ends_at", "reason", "ical_uid")
    readonly_fields = ("ical_uid",)


@admin.register(OnCallSchedule)
class OnCallScheduleAdmin(admin.ModelAdmin):
    form = OnCallScheduleForm
    list_display = ("name", "group", "time_zone", "updated_at")
    search_fields = ("name", "group__name")
    inlines = [OnCallLayerInline, OnCallOverrideInline]

    def save_model(
        self, request: HttpRequest, obj: OnCallSchedule, form: Any, change: bool
    ) -> None:
        if change:
            obj.version += 1
        super().save_model(request, obj, form, change)


class OnCallMemberInline(admin.TabularInline):
    model = OnCallMember
    extra = 1
    ordering = ("position",)


@admin.register(OnCallLayer)
class OnCallLayerAdmin(admin.ModelAdmin):
    """A layer's members, in turn order."""

    form = OnCallLayerForm
    list_display = ("schedule", "position", "name", "rotation", "handoff_time")
    inlines = [OnCallMemberInline]

    def get_model_perms(self, request: HttpRequest) -> dict[str, bool]:
        # Reached from its schedule's page; not listed on the admin index.
        return {}


class PageAttemptInline(admin.TabularInline):
    model = PageAttempt
    extra = 0
    can_delete = False
    readonly_fields = ("number", "person", "at", "ack_by")


@admin.register(Page)
class PageAdmin(admin.ModelAdmin):
    list_display = (
        "pk",
        "incident",
        "group",
        "state",
        "attempt",
        "person",
        "created_at",
        "acknowledged_by",
    )
    list_filter = ("state",)
    inlines = [PageAttemptInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
