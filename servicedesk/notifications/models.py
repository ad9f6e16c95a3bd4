"""Communications: rules, templates, in-app notifications, action requests, watchers.

A *rule* turns an event (subject + type, e.g. ``incident``/``escalated``)
whose subject meets its conditions into messages to its recipients, rendered
with an approved *template* per language and channel. Messages leave through
the outbox (``core.outbox``), written in the transaction of the event.
"""

from __future__ import annotations

from datetime import time
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from servicedesk.accounts.models import SupportLevel


class SubjectType(models.TextChoices):
    INCIDENT = "incident", _("incident")
    PROBLEM = "problem", _("problem")
    KNOWN_ERROR = "known_error", _("known error")


class MessageKind(models.TextChoices):
    STATUS = "status", _("status message")
    ACTION = "action", _("action request")


class Channel(models.TextChoices):
    EMAIL = "email", _("e-mail")
    INAPP = "inapp", _("in-app")
    WEBHOOK = "webhook", _("webhook")


class TemplateStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    APPROVED = "approved", _("approved")


LANGUAGE_CHOICES = [("en", "English"), ("ru", "Русский")]


class NotificationTemplate(models.Model):
    """A message text: a Django template per key, channel and language.

    ``subject``/``body`` are the working copy that administrators edit; what
    is sent is the last *approved* copy (``approved_subject``/``approved_body``),
    so an edit never reaches recipients before someone approves it.
    """

    key = models.SlugField(
        _("key"), max_length=80, help_text=_("Rules name templates by this key.")
    )
    channel = models.CharField(
        _("channel"), max_length=20, blank=True, choices=[("", _("any channel")), *Channel.choices],
        help_text=_("Empty: used for every channel that has no template of its own."),
    )  # fmt: skip
    language = models.CharField(_("language"), max_length=8, choices=LANGUAGE_CHOICES)
    description = models.CharField(_("description"), max_length=300, blank=True)
    subject = models.CharField(_("subject"), max_length=1000)
    body = models.TextField(_("body"))
    status = models.CharField(
        _("status"), max_length=10, choices=TemplateStatus, default=TemplateStatus.DRAFT
    )
    approved_subject = models.CharField(_("approved subject"), max_length=1000, blank=True)
    approved_body = models.TextField(_("approved body"), blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("approved by"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )  # fmt: skip
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("changed by"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )  # fmt: skip
    updated_at = models.DateTimeField(_("changed"), auto_now=True)
    # Part of the set shipped with the product (restorable, not deletable).
    shipped = models.BooleanField(_("shipped"), default=False)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["key", "channel", "language"]
        verbose_name = _("notification template")
        verbose_name_plural = _("notification templates")
        constraints = [
            models.UniqueConstraint(
                fields=["key", "channel", "language"], name="notifications_template_unique"
            )
        ]

    def __str__(self) -> str:
        channel = self.channel or "any"
        return f"{self.key} ({channel}, {self.language})"

    @property
    def is_usable(self) -> bool:
        """Has an approved copy that messages can be built from."""
        return bool(self.approved_at and self.approved_body)


class NotificationRule(models.Model):
    """Event x conditions -> recipients -> template and channels.

    Empty condition lists match everything. ``payload_match`` compares keys
    of the event's payload (and the derived facts documented in
    docs/notifications.md) with a value or a list of allowed values.
    """

    name = models.CharField(_("name"), max_length=200, unique=True)
    description = models.TextField(_("description"), blank=True)
    subject_type = models.CharField(
        _("subject"), max_length=20, choices=SubjectType, default=SubjectType.INCIDENT
    )
    event_types = models.JSONField(_("event types"), default=list)
    payload_match = models.JSONField(_("payload conditions"), default=dict, blank=True)
    severities = models.JSONField(_("severities"), default=list, blank=True)
    support_levels = models.JSONField(_("support levels"), default=list, blank=True)
    services = models.ManyToManyField(
        "catalog.Service", verbose_name=_("services"), blank=True, related_name="+"
    )
    technologies = models.ManyToManyField(
        "catalog.Technology", verbose_name=_("technologies"), blank=True, related_name="+"
    )
    user_groups = models.ManyToManyField(
        "catalog.UserGroup", verbose_name=_("user groups"), blank=True, related_name="+"
    )
    kind = models.CharField(
        _("kind"), max_length=10, choices=MessageKind, default=MessageKind.STATUS
    )
    # Action requests: what is asked (per language), by when, and which later
    # events of the same subject count as the action done.
    action = models.JSONField(_("action asked"), default=dict, blank=True)
    due_in = models.PositiveIntegerField(_("due in (seconds)"), null=True, blank=True)
    completes_on = models.JSONField(_("done on events"), default=list, blank=True)
    template_key = models.SlugField(_("template"), max_length=80)
    channels = models.JSONField(_("channels"), default=list)
    language = models.CharField(
        _("language for addresses"), max_length=8, blank=True, choices=LANGUAGE_CHOICES,
        help_text=_("For recipients that are not users (addresses, group mailboxes)."),
    )  # fmt: skip
    urgent = models.BooleanField(
        _("urgent"), default=False, help_text=_("Never held back by quiet hours.")
    )
    notify_actor = models.BooleanField(
        _("tell the actor too"), default=False,
        help_text=_("Send to the person who caused the event as well."),
    )  # fmt: skip
    active = models.BooleanField(_("active"), default=True)
    shipped = models.BooleanField(_("shipped"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["subject_type", "name"]
        verbose_name = _("notification rule")
        verbose_name_plural = _("notification rules")

    def __str__(self) -> str:
        return self.name

    def action_text(self, language: str) -> str:
        return action_text(self.action, language)


def action_text(action: dict[str, Any], language: str) -> str:
    """The action asked, in ``language`` if written in it, else English, else any."""
    if not action:
        return ""
    return str(action.get(language) or action.get("en") or next(iter(action.values()), ""))


class RecipientKind(models.TextChoices):
    REPORTER = "reporter", _("reporter")
    OWNER_GROUP = "owner_group", _("owner group")
    ASSIGNED_GROUP = "assigned_group", _("assigned group")
    ASSIGNEE = "assignee", _("assigned agent")
    ASSIGNEE_OR_GROUP = "assignee_or_group", _("assigned agent, else the assigned group")
    ON_CALL = "on_call", _("on-call person (paged)")
    MANAGER_CHAIN = "manager_chain", _("manager chain, level N")
    COORDINATOR = "coordinator", _("coordinator")
    PROBLEM_TEAM = "problem_team", _("problem team")
    SUPPORT_LEVEL = "support_level", _("support groups of level N (all levels when empty)")
    PARTICIPANTS = "participants", _("meeting participants")
    WATCHERS = "watchers", _("watchers")
    USER = "user", _("a user")
    GROUP = "group", _("a support group")
    ADDRESS = "address", _("an e-mail address or URL")
    WEBHOOK = "webhook", _("a webhook endpoint")


class RuleRecipient(models.Model):
    rule = models.ForeignKey(NotificationRule, on_delete=models.CASCADE, related_name="recipients")
    kind = models.CharField(_("kind"), max_length=20, choices=RecipientKind)
    level = models.PositiveSmallIntegerField(_("level"), null=True, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), null=True, blank=True,
        on_delete=models.CASCADE, related_name="+",
    )  # fmt: skip
    group = models.ForeignKey(
        "accounts.SupportGroup", verbose_name=_("group"), null=True, blank=True,
        on_delete=models.CASCADE, related_name="+",
    )  # fmt: skip
    address = models.CharField(_("address"), max_length=500, blank=True)
    webhook = models.ForeignKey(
        "integrations.WebhookEndpoint", verbose_name=_("webhook"), null=True, blank=True,
        on_delete=models.CASCADE, related_name="+",
    )  # fmt: skip

    class Meta:
        ordering = ["rule", "id"]
        verbose_name = _("recipient")
        verbose_name_plural = _("recipients")

    def __str__(self) -> str:
        label = str(RecipientKind(self.kind).label)
        extra = self.user or self.group or self.webhook or self.address or self.level or ""
        return f"{label}: {extra}" if extra else label


class Notification(models.Model):
    """An in-app notification: one row per user, written by the "inapp" channel.

    ``message_id`` is the outbox message's stable id, so a redelivery after a
    worker crash finds the row instead of adding a second one.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    message_id = models.UUIDField(unique=True)
    kind = models.CharField(max_length=10, choices=MessageKind, default=MessageKind.STATUS)
    event_type = models.CharField(max_length=80, blank=True)
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    link = models.CharField(max_length=500, blank=True)
    subject_type = models.CharField(max_length=20, blank=True)
    subject_id = models.BigIntegerField(null=True, blank=True)
    number = models.CharField(max_length=40, blank=True)
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action_request = models.ForeignKey(
        "ActionRequest", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("in-app notification")
        verbose_name_plural = _("in-app notifications")
        indexes = [
            models.Index(
                fields=["user", "-id"], name="notifications_unread",
                condition=Q(read_at__isnull=True),
            )
        ]  # fmt: skip

    def __str__(self) -> str:
        return self.title


class ActionState(models.TextChoices):
    OPEN = "open", _("open")
    DONE = "done", _("done")
    CANCELLED = "cancelled", _("no longer needed")


class ActionRequest(models.Model):
    """A tracked request for someone to act: addressee, action asked, due time, done."""

    rule = models.ForeignKey(
        NotificationRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    subject_type = models.CharField(max_length=20, choices=SubjectType)
    subject_id = models.BigIntegerField()
    number = models.CharField(_("reference"), max_length=40)
    incident = models.ForeignKey(
        "incidents.Incident", null=True, blank=True, on_delete=models.CASCADE,
        related_name="action_requests",
    )  # fmt: skip
    event_type = models.CharField(max_length=80, blank=True)
    addressee = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("addressee"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="action_requests",
    )  # fmt: skip
    addressee_group = models.ForeignKey(
        "accounts.SupportGroup", verbose_name=_("addressee group"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="action_requests",
    )  # fmt: skip
    address = models.CharField(_("address"), max_length=500, blank=True)
    action = models.JSONField(_("action asked"), default=dict)
    requested_at = models.DateTimeField(_("requested"))
    due_at = models.DateTimeField(_("due"))
    state = models.CharField(
        _("state"), max_length=10, choices=ActionState, default=ActionState.OPEN
    )
    done_at = models.DateTimeField(_("done"), null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("done by"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )  # fmt: skip
    outcome = models.CharField(_("outcome"), max_length=200, blank=True)
    completes_on = models.JSONField(default=list, blank=True)
    channels = models.JSONField(default=list, blank=True)
    urgent = models.BooleanField(default=False)
    overdue_at = models.DateTimeField(_("found overdue"), null=True, blank=True)
    reminders = models.PositiveSmallIntegerField(_("reminders sent"), default=0)

    class Meta:
        ordering = ["due_at", "id"]
        verbose_name = _("action request")
        verbose_name_plural = _("action requests")
        indexes = [
            models.Index(
                fields=["subject_type", "subject_id", "state"], name="notifications_ar_subj"
            ),
            models.Index(fields=["addressee", "state", "due_at"], name="notifications_ar_user"),
        ]

    def __str__(self) -> str:
        return f"{self.number}: {action_text(self.action, 'en')}"

    @property
    def addressee_name(self) -> str:
        return str(self.addressee or self.addressee_group or self.address)

    def is_overdue(self, now: Any) -> bool:
        return self.state == ActionState.OPEN and self.due_at <= now


class Watcher(models.Model):
    """Someone who asked to be told about a subject's changes."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    subject_type = models.CharField(max_length=20, choices=SubjectType)
    subject_id = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("watcher")
        verbose_name_plural = _("watchers")
        constraints = [
            models.UniqueConstraint(
                fields=["subject_type", "subject_id", "user"], name="notifications_watch_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} watches {self.subject_type} {self.subject_id}"


def _weekdays() -> list[int]:
    return [0, 1, 2, 3, 4]


class NotificationPreference(models.Model):
    """A person's working hours: non-urgent e-mail outside them waits for the morning."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    quiet_hours = models.BooleanField(
        _("hold non-urgent e-mail outside working hours"), default=True
    )
    # ISO weekdays counted from Monday = 0.
    work_days = models.JSONField(_("working days"), default=_weekdays)
    work_starts = models.TimeField(_("work starts"), default=time(8, 0))
    work_ends = models.TimeField(_("work ends"), default=time(18, 0))

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")

    def __str__(self) -> str:
        return f"{self.user}: {self.work_starts:%H:%M}-{self.work_ends:%H:%M}"


SUPPORT_LEVELS = [level for level, _label in SupportLevel.choices]
