"""Admin pages: rules (with recipients), templates (edit, preview, approve), action
requests, in-app notifications, watchers and working hours. Every change goes
through ``services``."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

from servicedesk.core import clock
from servicedesk.core.errors import ServiceError
from servicedesk.incidents.models import Incident, parse_number

from . import services
from .models import (
    ActionRequest,
    ActionState,
    Notification,
    NotificationPreference,
    NotificationRule,
    NotificationTemplate,
    RuleRecipient,
    Watcher,
    action_text,
)

# ---- templates -----------------------------------------------------------------------------


class TemplateForm(forms.ModelForm):
    preview_record = forms.CharField(
        label=_("Preview with incident"), required=False,
        help_text=_("An incident number (INC-000042) or id; the newest incident when empty."),
    )  # fmt: skip
    preview_event = forms.CharField(
        label=_("Preview with event"), required=False,
        help_text=_("An event type (created, escalated, resolved, ...): the incident's latest "
                    "event of that type, else a sample."),
    )  # fmt: skip

    class Meta:
        model = NotificationTemplate
        fields = ["key", "channel", "language", "description", "subject", "body"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        try:
            services.check_template_source(
                subject=data.get("subject") or "", body=data.get("body") or ""
            )
        except ServiceError as exc:
            loc = getattr(exc, "loc", ["body", "body"])
            self.add_error(loc[-1] if loc[-1] in ("subject", "body") else None, exc.message)
        return data


def _preview_incident(text: str) -> Incident | None:
    qs = Incident.objects.select_related(
        "reporter", "owner_group", "assigned_group", "assignee", "coordinator"
    )
    text = (text or "").strip()
    if not text:
        return qs.order_by("-id").first()
    pk = parse_number(text) or (int(text) if text.isdigit() and len(text) < 10 else None)
    return qs.filter(pk=pk).first() if pk else None


@admin.register(NotificationTemplate)
class NotificationTemplateAdmin(admin.ModelAdmin):
    """Edit the working copy, preview it with a real incident before saving, approve it."""

    form = TemplateForm
    change_form_template = "admin/notifications/notificationtemplate/change_form.html"
    list_display = ("key", "channel", "language", "status", "approved_at", "approved_by", "shipped")
    list_filter = ("status", "language", "channel", "shipped")
    search_fields = ("key", "description", "subject")
    actions = ["approve", "restore"]
    readonly_fields = (
        "status", "approved_subject", "approved_body", "approved_by", "approved_at",
        "updated_by", "updated_at", "shipped", "version",
    )  # fmt: skip

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fixed = ("key", "channel", "language") if obj is not None else ()
        return (*fixed, *self.readonly_fields)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        editable = ["description", "subject", "body", "preview_record", "preview_event"]
        head = [] if obj is not None else ["key", "channel", "language"]
        ro = list(self.get_readonly_fields(request, obj))
        return [*head, *[f for f in ro if f in ("key", "channel", "language")], *editable,
                *[f for f in ro if f not in ("key", "channel", "language")]]  # fmt: skip

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return services.is_admin(request.user)  # type: ignore[arg-type]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return services.is_admin(request.user)  # type: ignore[arg-type]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return services.is_admin(request.user) and not (obj is not None and obj.shipped)  # type: ignore[arg-type]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = form.cleaned_data
        if change:
            saved = services.do_update_template(
                actor=request.user, template=obj.pk,  # type: ignore[arg-type]
                changes={k: data[k] for k in ("subject", "body", "description")},
            )  # fmt: skip
        else:
            saved = services.do_create_template(
                actor=request.user, key=data["key"], channel=data["channel"],  # type: ignore[arg-type]
                language=data["language"], subject=data["subject"], body=data["body"],
                description=data["description"],
            )  # fmt: skip
        obj.pk = saved.pk
        obj.refresh_from_db()

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        services.do_delete_template(actor=request.user, template=obj.pk)  # type: ignore[arg-type]

    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:  # fmt: skip
        if request.method == "POST" and "_preview" in request.POST:
            return self._preview(request, object_id, form_url)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def _preview(self, request: HttpRequest, object_id: str | None, form_url: str) -> HttpResponse:
        """Render the submitted (unsaved) text with a real incident; save nothing."""
        obj = self.get_object(request, unquote(object_id)) if object_id else None
        form_class = self.get_form(request, obj, change=obj is not None)
        form = form_class(request.POST, instance=obj)
        preview: dict[str, Any] | None = None
        if form.is_valid():
            data = form.cleaned_data
            incident = _preview_incident(data.get("preview_record", ""))
            language = obj.language if obj is not None else data.get("language", "en")
            if incident is None:
                preview = {"error": _("No such incident to preview with.")}
            else:
                try:
                    rendered = services.preview(
                        subject=data["subject"], body=data["body"], language=language,
                        subject_type="incident", record=incident,
                        event_type=data.get("preview_event") or "",
                        recipient=request.user,  # type: ignore[arg-type]
                    )  # fmt: skip
                    preview = {"subject": rendered.subject, "body": rendered.body,
                               "record": incident.number}  # fmt: skip
                except Exception as exc:
                    preview = {"error": str(exc)}
        fieldsets = self.get_fieldsets(request, obj)
        admin_form = helpers.AdminForm(
            form, list(fieldsets), self.get_prepopulated_fields(request, obj),  # type: ignore[arg-type]
            self.get_readonly_fields(request, obj), model_admin=self,
        )  # fmt: skip
        context = {
            **self.admin_site.each_context(request),
            "title": _("Preview template"),
            "subtitle": str(obj) if obj else None,
            "adminform": admin_form,
            "object_id": object_id,
            "original": obj,
            "is_popup": False,
            "to_field": None,
            "media": self.media + admin_form.media,
            "inline_admin_formsets": [],
            "errors": helpers.AdminErrorList(form, []),
            "preferred_domain": None,
            "preview": preview,
        }
        return self.render_change_form(
            request, context, add=obj is None, change=obj is not None, obj=obj, form_url=form_url
        )

    @admin.action(description=_("Approve the selected templates (messages use them from now on)"))
    def approve(self, request: HttpRequest, queryset: Any) -> None:
        approved = 0
        for template in queryset:
            try:
                services.do_approve_template(actor=request.user, template=template)  # type: ignore[arg-type]
                approved += 1
            except ServiceError as exc:
                self.message_user(request, f"{template}: {exc.message}", messages.ERROR)
        if approved:
            self.message_user(request, _("%d template(s) approved.") % approved, messages.SUCCESS)

    @admin.action(description=_("Restore the shipped text (as a draft)"))
    def restore(self, request: HttpRequest, queryset: Any) -> None:
        for template in queryset:
            try:
                services.do_restore_template(actor=request.user, template=template)  # type: ignore[arg-type]
            except ServiceError as exc:
                self.message_user(request, f"{template}: {exc.message}", messages.ERROR)


# ---- rules --------------------------------------------------------------------------------


class RecipientInline(admin.TabularInline):
    model = RuleRecipient
    extra = 1
    autocomplete_fields = ()
    fields = ("kind", "level", "user", "group", "address", "webhook")


class RuleForm(forms.ModelForm):
    class Meta:
        model = NotificationRule
        fields = [
            "name", "description", "active", "subject_type", "event_types", "payload_match",
            "severities", "support_levels", "services", "technologies", "user_groups", "kind",
            "action", "due_in", "completes_on", "template_key", "channels", "language",
            "urgent", "notify_actor",
        ]  # fmt: skip

    def clean_template_key(self) -> str:
        key = self.cleaned_data["template_key"]
        if not NotificationTemplate.objects.filter(key=key).exists():
            raise forms.ValidationError(_("No template has this key."))
        return str(key)

    def clean_channels(self) -> Any:
        value = self.cleaned_data["channels"]
        if not isinstance(value, list) or not value or set(value) - {"email", "inapp", "webhook"}:
            raise forms.ValidationError(_('A list of "email", "inapp" and/or "webhook".'))
        return value

    def clean_event_types(self) -> Any:
        value = self.cleaned_data["event_types"]
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise forms.ValidationError(_('A list of event types, e.g. ["created"].'))
        return value


@admin.register(NotificationRule)
class NotificationRuleAdmin(admin.ModelAdmin):
    form = RuleForm
    inlines = [RecipientInline]
    list_display = (
        "name",
        "subject_type",
        "event_list",
        "kind",
        "template_key",
        "active",
        "shipped",
    )
    list_filter = ("active", "subject_type", "kind", "shipped")
    search_fields = ("name", "description", "template_key")
    filter_horizontal = ("services", "technologies", "user_groups")

    @admin.display(description=_("events"))
    def event_list(self, rule: NotificationRule) -> str:
        return ", ".join(rule.event_types or [])

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return services.is_admin(request.user)  # type: ignore[arg-type]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return services.is_admin(request.user)  # type: ignore[arg-type]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return services.is_admin(request.user)  # type: ignore[arg-type]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        # Saved with its recipients and conditions in one service call (save_related).
        pass

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        data = {k: v for k, v in form.cleaned_data.items() if k in RuleForm.Meta.fields}
        for relation in ("services", "technologies", "user_groups"):
            data[relation] = list(data.get(relation) or [])
        recipients = []
        for formset in formsets:
            for inline in formset.forms:
                cleaned = getattr(inline, "cleaned_data", None) or {}
                if not cleaned or cleaned.get("DELETE"):
                    continue
                recipients.append({k: cleaned.get(k) for k in RecipientInline.fields})
        data["recipients"] = recipients
        rule = services.do_save_rule(
            actor=request.user, rule=form.instance.pk if change else None, data=data,  # type: ignore[arg-type]
        )  # fmt: skip
        form.instance.pk = rule.pk
        for formset in formsets:
            # The admin's change message reads what a formset saved; the service saved it.
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        services.do_delete_rule(actor=request.user, rule=obj.pk)  # type: ignore[arg-type]


# ---- tracking ------------------------------------------------------------------------------


class OverdueFilter(admin.SimpleListFilter):
    title = _("overdue")
    parameter_name = "overdue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> Any:
        return [("yes", _("overdue"))]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        if self.value() == "yes":
            return queryset.filter(state=ActionState.OPEN, due_at__lte=clock.now())
        return queryset


@admin.register(ActionRequest)
class ActionRequestAdmin(admin.ModelAdmin):
    list_display = ("number", "addressee_name", "asked", "due_at", "state", "overdue", "reminders")
    list_filter = ("state", OverdueFilter, "subject_type")
    search_fields = ("number", "addressee__username", "addressee_group__name", "address")
    actions = ["mark_done"]

    @admin.display(description=_("action asked"))
    def asked(self, obj: ActionRequest) -> str:
        return action_text(obj.action, "en")

    @admin.display(description=_("overdue"), boolean=True)
    def overdue(self, obj: ActionRequest) -> bool:
        return obj.is_overdue(clock.now())

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description=_("Mark the selected requests done"))
    def mark_done(self, request: HttpRequest, queryset: Any) -> None:
        for item in queryset.filter(state=ActionState.OPEN):
            try:
                services.do_complete_action_request(
                    request=item,
                    actor=request.user,  # type: ignore[arg-type]
                    outcome="done (admin)",
                )
            except ServiceError as exc:
                self.message_user(request, f"{item}: {exc.message}", messages.ERROR)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("title", "user", "kind", "created_at", "read_at")
    list_filter = ("kind",)
    search_fields = ("title", "number", "user__username")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Watcher)
class WatcherAdmin(admin.ModelAdmin):
    list_display = ("user", "subject_type", "subject_id", "created_at")
    list_filter = ("subject_type",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ("user", "quiet_hours", "work_starts", "work_ends", "work_days")
    fields = ("user", "quiet_hours", "work_days", "work_starts", "work_ends")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = form.cleaned_data
        saved = services.do_set_preferences(
            user=data["user"], quiet_hours=data["quiet_hours"], work_days=list(data["work_days"]),
            work_starts=data["work_starts"], work_ends=data["work_ends"],
        )  # fmt: skip
        obj.pk = saved.pk
