"""Integrations in the admin: webhooks, intake integrations with their mapping rules
and mailbox, and the read-only intake records (request log, alert groups, mail)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from servicedesk.core.errors import ServiceError

from . import services
from .models import (
    AlertGroup,
    Attachment,
    InboundEmail,
    IntakeRequest,
    Integration,
    Mailbox,
    MappingRule,
    WebhookEndpoint,
)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ("name", "url", "active", "created_at")
    list_filter = ("active",)


class MappingRuleInline(admin.StackedInline):
    model = MappingRule
    extra = 0
    fields = (
        ("position", "name", "stop"), "match", ("service", "service_label"),
        ("configuration_item", "ci_label"), ("technology", "category"),
        ("severity", "affected_users"), "title_template", "description_template",
    )  # fmt: skip
    autocomplete_fields = ("service", "configuration_item", "technology", "category")


class MailboxForm(forms.ModelForm):
    new_password = forms.CharField(
        label=_("IMAP password"), required=False, widget=forms.PasswordInput,
        help_text=_("Leave empty to keep the stored password."),
    )  # fmt: skip

    class Meta:
        model = Mailbox
        fields = ("address", "imap_host", "imap_port", "imap_security", "imap_username",
                  "imap_password_env", "imap_folder")  # fmt: skip

    def save(self, commit: bool = True) -> Any:
        if self.cleaned_data.get("new_password"):
            self.instance.imap_password = self.cleaned_data["new_password"]
        return super().save(commit)


class MailboxInline(admin.StackedInline):
    model = Mailbox
    form = MailboxForm
    extra = 0
    max_num = 1
    can_delete = False
    readonly_fields = ("last_uid", "last_polled_at", "last_error")


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "active", "token_prefix", "reporter", "on_resolved")
    list_filter = ("kind", "active")
    search_fields = ("name",)
    fields = ("name", "kind", "active", "reporter", "dedup_labels", "on_resolved",
              "repeat_event_minutes", "token_prefix", "system_user")  # fmt: skip
    readonly_fields = ("token_prefix", "system_user")
    autocomplete_fields = ("reporter",)
    inlines = (MappingRuleInline, MailboxInline)
    actions = ("issue_token", "enable", "disable")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change:
            return
        token = services.do_provision_integration(integration=obj, actor=request.user)  # type: ignore[arg-type]
        obj.refresh_from_db()
        if token:
            messages.warning(
                request,
                _("The token of %(name)s, shown only now: %(token)s")
                % {"name": obj.name, "token": token},
            )

    @admin.action(description=_("Issue a new token (the old one stops working)"))
    def issue_token(self, request: HttpRequest, queryset: QuerySet[Integration]) -> None:
        for integration in queryset:
            try:
                token = services.do_rotate_token(integration=integration, actor=request.user)  # type: ignore[arg-type]
            except ServiceError as exc:
                messages.error(request, f"{integration}: {exc.message}")
                continue
            messages.warning(request, f"{integration}: {token}")

    @admin.action(description=_("Enable"))
    def enable(self, request: HttpRequest, queryset: QuerySet[Integration]) -> None:
        for integration in queryset:
            services.do_set_active(integration=integration, active=True, actor=request.user)  # type: ignore[arg-type]

    @admin.action(description=_("Disable"))
    def disable(self, request: HttpRequest, queryset: QuerySet[Integration]) -> None:
        for integration in queryset:
            services.do_set_active(integration=integration, active=False, actor=request.user)  # type: ignore[arg-type]


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(IntakeRequest)
class IntakeRequestAdmin(ReadOnly):
    list_display = ("received_at", "integration", "kind", "result", "status_code", "alerts",
                    "detail", "incident")  # fmt: skip
    list_filter = ("result", "kind", "integration")
    search_fields = ("detail",)
    date_hierarchy = "received_at"
    list_select_related = ("integration", "incident")


@admin.register(AlertGroup)
class AlertGroupAdmin(ReadOnly):
    list_display = ("integration", "key", "is_open", "alert_status", "count", "first_seen_at",
                    "last_seen_at", "incident")  # fmt: skip
    list_filter = ("is_open", "alert_status", "integration")
    search_fields = ("key", "title")
    list_select_related = ("integration", "incident")


@admin.register(InboundEmail)
class InboundEmailAdmin(ReadOnly):
    list_display = ("received_at", "integration", "from_address", "subject", "action", "reason",
                    "incident")  # fmt: skip
    list_filter = ("action", "integration")
    search_fields = ("from_address", "subject", "message_id")
    list_select_related = ("integration", "incident")


@admin.register(Attachment)
class AttachmentAdmin(ReadOnly):
    list_display = ("filename", "content_type", "size", "incident", "created_at")
    search_fields = ("filename", "sha256")
    list_select_related = ("incident",)
