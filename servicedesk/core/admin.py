"""The worker's rows, for operators: read-only, with a retry action."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import retries
from .models import DeliveryAttempt, DueItem, OutboxMessage, WorkerHeartbeat


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _retried(count: int) -> str:
    return ngettext(
        "%(count)d failed row is pending again (rows that had not failed are left alone).",
        "%(count)d failed rows are pending again (rows that had not failed are left alone).",
        count,
    ) % {"count": count}


@admin.register(DueItem)
class DueItemAdmin(ReadOnly):
    list_display = ("key", "kind", "state", "scheduled_at", "due_at", "attempts", "lease_owner")
    list_filter = ("state", "kind")
    search_fields = ("key",)
    actions = ["retry_now"]

    @admin.action(description=_("Perform the selected failed due items again"))
    def retry_now(self, request: HttpRequest, queryset: Any) -> None:
        count = retries.retry_failed_due_items(queryset.values_list("pk", flat=True))
        self.message_user(request, _retried(count), messages.SUCCESS)


class AttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    readonly_fields = ("number", "at", "ok", "detail", "duration_ms")
    extra = 0
    can_delete = False


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnly):
    list_display = (
        "message_id",
        "channel",
        "destination",
        "event_type",
        "state",
        "attempts",
        "created_at",
        "delivered_at",
    )
    list_filter = ("state", "channel")
    search_fields = ("destination", "event_type")
    inlines = [AttemptInline]
    actions = ["retry_now"]

    @admin.action(description=_("Retry the selected failed messages now"))
    def retry_now(self, request: HttpRequest, queryset: Any) -> None:
        count = retries.retry_failed_messages(queryset.values_list("pk", flat=True))
        self.message_user(request, _retried(count), messages.SUCCESS)


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadOnly):
    list_display = ("name", "hostname", "pid", "started_at", "seen_at")
