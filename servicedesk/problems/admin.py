"""Problem control in the admin: every change goes through the services (and the timeline)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest

from servicedesk.core.errors import ServiceError

from . import candidates, services
from .models import (
    Candidate,
    FollowUpAction,
    IshikawaCause,
    KepnerTregoeRow,
    Problem,
    ProblemEvent,
    ProblemReview,
    ProblemSpan,
    SelectionFactor,
    WhyStep,
)

EDITABLE = ("title", "description", "technology", "service", "category", "priority", "major",
            "users_affected", "business_impact", "cost_estimate", "cause_estimate_hours", "owner")  # fmt: skip


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class EventInline(_ReadOnlyInline):
    model = ProblemEvent
    fields = readonly_fields = ("at", "type", "actor", "payload")


class SpanInline(_ReadOnlyInline):
    model = ProblemSpan
    fields = readonly_fields = ("group", "support_level", "started_at", "ended_at", "end_reason")


class WhyInline(_ReadOnlyInline):
    model = WhyStep
    fields = readonly_fields = ("position", "question", "answer")


class IshikawaInline(_ReadOnlyInline):
    model = IshikawaCause
    fields = readonly_fields = ("category", "text", "parent", "is_root_cause")


class KepnerTregoeInline(_ReadOnlyInline):
    model = KepnerTregoeRow
    fields = readonly_fields = ("dimension", "is_text", "is_not_text", "distinctions", "changes")


@admin.register(Problem)
class ProblemAdmin(admin.ModelAdmin):
    list_display = ("number", "title", "status", "priority", "score", "support_level",
                    "assigned_group", "opened_at")  # fmt: skip
    list_filter = ("status", "source", "priority", "support_level", "technology", "major")
    search_fields = ("title", "description")
    date_hierarchy = "opened_at"
    ordering = ("-score", "id")
    inlines = [SpanInline, IshikawaInline, WhyInline, KepnerTregoeInline, EventInline]
    actions = ["start_investigation", "recompute_scores"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return EDITABLE

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # problems are closed, never deleted

    def save_model(self, request: HttpRequest, obj: Problem, form: Any, change: bool) -> None:
        data = {f: form.cleaned_data.get(f) for f in EDITABLE}
        actor = request.user
        if not change:
            created = services.do_create_problem(
                actor=actor,  # type: ignore[arg-type]
                **{k: v for k, v in data.items() if v not in (None, "")},
            )
            obj.pk = created.pk
            return
        changes = {
            f: (v.pk if hasattr(v, "pk") else v) for f, v in data.items() if f in form.changed_data
        }
        services.do_update_problem(problem=obj.pk, actor=actor, changes=changes)  # type: ignore[arg-type]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """Many-to-many fields are not edited here (the API and services own them)."""

    @admin.action(description="Start investigating the selected problems")
    def start_investigation(self, request: HttpRequest, queryset: Any) -> None:
        for problem in queryset:
            try:
                services.do_start_investigation(problem=problem.pk, actor=request.user)  # type: ignore[arg-type]
            except ServiceError as exc:
                self.message_user(request, f"{problem.number}: {exc.message}", messages.WARNING)

    @admin.action(description="Recompute the selection scores of all open problems")
    def recompute_scores(self, request: HttpRequest, queryset: Any) -> None:
        self.message_user(request, f"{services.recompute_scores()} problems rescored.")


@admin.register(SelectionFactor)
class SelectionFactorAdmin(admin.ModelAdmin):
    """The portfolio's weighted criteria; saving rescores every open problem."""

    list_display = ("key", "weight", "cap")
    list_editable = ("weight", "cap")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(
        self, request: HttpRequest, obj: SelectionFactor, form: Any, change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        services.recompute_scores()


@admin.register(Candidate)
class CandidateAdmin(admin.ModelAdmin):
    list_display = ("id", "title", "source", "state", "incident", "problem", "created_at")
    list_filter = ("state", "source")
    readonly_fields = ("source", "incident", "fingerprint", "title", "reasons", "evidence", "state",
                       "problem", "created_at", "updated_at", "decided_at", "decided_by", "decision_note")  # fmt: skip
    exclude = ("incidents",)
    actions = ["accept", "dismiss"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Accept: open a problem for each selected candidate")
    def accept(self, request: HttpRequest, queryset: Any) -> None:
        for candidate in queryset:
            try:
                candidates.do_accept_candidate(candidate=candidate.pk, actor=request.user)  # type: ignore[arg-type]
            except ServiceError as exc:
                self.message_user(request, f"{candidate}: {exc.message}", messages.WARNING)

    @admin.action(description="Dismiss the selected candidates")
    def dismiss(self, request: HttpRequest, queryset: Any) -> None:
        for candidate in queryset:
            try:
                candidates.do_dismiss_candidate(
                    candidate=candidate.pk,
                    actor=request.user,  # type: ignore[arg-type]
                    note="admin",
                )
            except ServiceError as exc:
                self.message_user(request, f"{candidate}: {exc.message}", messages.WARNING)


class ActionInline(_ReadOnlyInline):
    model = FollowUpAction
    fields = readonly_fields = ("title", "owner", "due_at", "done_at")


@admin.register(ProblemReview)
class ProblemReviewAdmin(admin.ModelAdmin):
    list_display = ("problem", "held_at", "created_by")
    readonly_fields = (
        "problem",
        "held_at",
        "went_well",
        "went_wrong",
        "lessons",
        "created_by",
        "created_at",
    )
    exclude = ("participants",)
    inlines = [ActionInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
