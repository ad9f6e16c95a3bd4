"""Incidents in the admin: every change goes through the services (and the timeline)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest

from servicedesk.core.errors import ServiceError

from . import services
from .models import AssignmentSpan, Incident, IncidentEvent, PriorityRule, SeverityBand

EDITABLE = ("title", "description", "contact_phone", "contact_email", "user_group", "service",
            "configuration_item", "technology", "category", "affected_users", "business_impact",
            "impact", "urgency", "expected_resolution_at")  # fmt: skip


class EventInline(admin.TabularInline):
    model = IncidentEvent
    fields = ("at", "type", "actor", "payload")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class SpanInline(admin.TabularInline):
    model = AssignmentSpan
    fields = ("group", "support_level", "started_at", "ended_at", "end_reason")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = (
        "number",
        "title",
        "severity",
        "priority",
        "status",
        "support_level",
        "assigned_group",
        "assignee",
        "opened_at",
    )
    list_filter = ("status", "severity", "support_level", "assigned_group", "technology")
    search_fields = ("title", "external_ref")
    date_hierarchy = "opened_at"
    inlines = [SpanInline, EventInline]
    list_select_related = ("assigned_group", "assignee")
    raw_id_fields = ("reporter",)
    actions = ["cancel_incidents"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("reporter", *EDITABLE) if obj is None else EDITABLE

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # incidents are cancelled, never deleted

    def save_model(self, request: HttpRequest, obj: Incident, form: Any, change: bool) -> None:
        data = {f: form.cleaned_data.get(f) for f in EDITABLE}
        if not change:
            created = services.do_create_incident(
                actor=request.user, reporter=form.cleaned_data["reporter"],  # type: ignore[arg-type]
                source="phone", **{k: v for k, v in data.items() if v not in (None, "")},
            )  # fmt: skip
            obj.pk = created.pk
            return
        changes = {
            f: (v.pk if hasattr(v, "pk") else v) for f, v in data.items() if f in form.changed_data
        }
        services.do_update_incident(incident=obj.pk, actor=request.user, changes=changes)  # type: ignore[arg-type]

    @admin.action(description="Cancel selected incidents")
    def cancel_incidents(self, request: HttpRequest, queryset: Any) -> None:
        for incident in queryset:
            try:
                services.do_cancel(
                    incident=incident.pk,
                    actor=request.user,  # type: ignore[arg-type]
                    reason="cancelled in the admin",
                )
            except ServiceError as exc:
                self.message_user(request, f"{incident.number}: {exc.message}", messages.WARNING)


@admin.register(SeverityBand)
class SeverityBandAdmin(admin.ModelAdmin):
    list_display = ("severity", "name", "min_affected_users")


@admin.register(PriorityRule)
class PriorityRuleAdmin(admin.ModelAdmin):
    list_display = ("impact", "urgency", "priority")
