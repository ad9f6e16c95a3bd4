from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from servicedesk.core import clock

from .models import ScheduledReport
from .services import next_run


@admin.register(ScheduledReport)
class ScheduledReportAdmin(admin.ModelAdmin):
    list_display = ("name", "report", "frequency", "format", "is_active", "next_run_at",
                    "last_sent_at")  # fmt: skip
    list_filter = ("report", "frequency", "is_active")
    search_fields = ("name", "recipients")
    readonly_fields = ("next_run_at", "last_sent_at", "created_at", "created_by")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        # A configuration record: the schedule's clock is derived, never typed in.
        now = clock.now()
        if not change:
            obj.created_by, obj.created_at = request.user, now
        if not change or "frequency" in form.changed_data:
            obj.next_run_at = next_run(obj.frequency, now)
        super().save_model(request, obj, form, change)
