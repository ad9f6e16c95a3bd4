"""Error control in the admin: every change goes through the services (and the timeline)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest

from servicedesk.core.errors import ServiceError

from . import fixes, search, services
from .models import FixProject, FixProjectEvent, KnownError, KnownErrorEvent, KnownErrorIncident

EDITABLE = ("title", "symptoms", "root_cause", "workaround", "permanent_fix", "keywords",
            "technology", "priority")  # fmt: skip
FIX_EDITABLE = ("title", "description", "priority", "owner", "group", "planned_start",
                "planned_end", "cost_estimate", "actual_cost", "change_ref")  # fmt: skip


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class EventInline(_ReadOnlyInline):
    model = KnownErrorEvent
    fields = readonly_fields = ("at", "type", "actor", "payload")


class IncidentInline(_ReadOnlyInline):
    model = KnownErrorIncident
    fields = readonly_fields = ("incident", "applied_at", "applied_by", "resolved")


class FixInline(_ReadOnlyInline):
    model = FixProject
    fields = readonly_fields = ("title", "status", "priority", "planned_end", "change_ref")


@admin.register(KnownError)
class KnownErrorAdmin(admin.ModelAdmin):
    list_display = (
        "number",
        "title",
        "status",
        "audience",
        "priority",
        "rate_rising",
        "updated_at",
    )
    list_filter = ("status", "audience", "rate_rising", "technology")
    search_fields = ("title", "symptoms")
    inlines = [FixInline, IncidentInline, EventInline]
    actions = ["publish_support", "publish_portal", "withdraw", "rebuild_index"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return EDITABLE

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # known errors are closed, never deleted

    def save_model(self, request: HttpRequest, obj: KnownError, form: Any, change: bool) -> None:
        data = {f: form.cleaned_data.get(f) for f in EDITABLE}
        actor = request.user
        if not change:
            created = services.do_create_known_error(
                actor=actor,  # type: ignore[arg-type]
                audience="unpublished",  # a draft: publish it with the action
                **{k: v for k, v in data.items() if v not in (None, "")},
            )
            obj.pk = created.pk
            return
        changes = {
            f: (v.pk if hasattr(v, "pk") else v) for f, v in data.items() if f in form.changed_data
        }
        services.do_update_known_error(known_error=obj.pk, actor=actor, changes=changes)  # type: ignore[arg-type]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """Many-to-many fields are not edited here (the API and services own them)."""

    def _each(self, request: HttpRequest, queryset: Any, verb: Any, **kwargs: Any) -> None:
        for ke in queryset:
            try:
                verb(known_error=ke.pk, actor=request.user, **kwargs)
            except ServiceError as exc:
                self.message_user(request, f"{ke.number}: {exc.message}", messages.WARNING)

    @admin.action(description="Publish the workaround for all support levels")
    def publish_support(self, request: HttpRequest, queryset: Any) -> None:
        self._each(request, queryset, services.do_publish_workaround, audience="support")

    @admin.action(description="Publish the workaround for support levels and the portal")
    def publish_portal(self, request: HttpRequest, queryset: Any) -> None:
        self._each(request, queryset, services.do_publish_workaround, audience="portal")

    @admin.action(description="Withdraw the workaround")
    def withdraw(self, request: HttpRequest, queryset: Any) -> None:
        self._each(
            request, queryset, services.do_withdraw_workaround, reason="withdrawn in the admin"
        )

    @admin.action(description="Rebuild the matching index (all known errors)")
    def rebuild_index(self, request: HttpRequest, queryset: Any) -> None:
        self.message_user(request, f"{search.rebuild()} matchable known errors indexed.")


class FixEventInline(_ReadOnlyInline):
    model = FixProjectEvent
    fields = readonly_fields = ("at", "type", "actor", "payload")


@admin.register(FixProject)
class FixProjectAdmin(admin.ModelAdmin):
    list_display = (
        "number",
        "title",
        "known_error",
        "priority",
        "status",
        "planned_end",
        "cost_estimate",
    )
    list_filter = ("status", "priority")
    ordering = ("priority", "id")
    raw_id_fields = ("known_error",)
    inlines = [FixEventInline]
    actions = ["approve", "start", "implement"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("known_error", *FIX_EDITABLE) if obj is None else FIX_EDITABLE

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: FixProject, form: Any, change: bool) -> None:
        data = {f: form.cleaned_data.get(f) for f in FIX_EDITABLE}
        if not change:
            created = fixes.do_create_fix_project(
                actor=request.user,  # type: ignore[arg-type]
                known_error=form.cleaned_data["known_error"],
                **{k: v for k, v in data.items() if v not in (None, "") and k != "actual_cost"},
            )
            obj.pk = created.pk
            return
        changes = {
            f: (v.pk if hasattr(v, "pk") else v) for f, v in data.items() if f in form.changed_data
        }
        fixes.do_update_fix_project(fix_project=obj.pk, actor=request.user, changes=changes)  # type: ignore[arg-type]

    def _each(self, request: HttpRequest, queryset: Any, status: str) -> None:
        for fix in queryset:
            try:
                fixes.do_change_fix_status(fix_project=fix.pk, actor=request.user, status=status)  # type: ignore[arg-type]
            except ServiceError as exc:
                self.message_user(request, f"{fix.number}: {exc.message}", messages.WARNING)

    @admin.action(description="Approve")
    def approve(self, request: HttpRequest, queryset: Any) -> None:
        self._each(request, queryset, "approved")

    @admin.action(description="Start (in progress)")
    def start(self, request: HttpRequest, queryset: Any) -> None:
        self._each(request, queryset, "in_progress")

    @admin.action(description="Mark implemented")
    def implement(self, request: HttpRequest, queryset: Any) -> None:
        self._each(request, queryset, "implemented")
