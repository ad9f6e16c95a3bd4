"""The incident card, its timeline, assignment spans, worklog and action plan."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from servicedesk.accounts.models import SupportLevel

NUMBER_PREFIX = "INC-"


class Status(models.TextChoices):
    NEW = "new", _("new")
    ASSIGNED = "assigned", _("assigned")
    IN_PROGRESS = "in_progress", _("in progress")
    PENDING = "pending", _("pending")
    RESOLVED = "resolved", _("resolved")
    CLOSED = "closed", _("closed")
    CANCELLED = "cancelled", _("cancelled")


OPEN_STATUSES = (Status.NEW, Status.ASSIGNED, Status.IN_PROGRESS, Status.PENDING)


class PendingReason(models.TextChoices):
    AWAITING_USER = "awaiting_user", _("awaiting the user")
    AWAITING_VENDOR = "awaiting_vendor", _("awaiting a vendor")
    AWAITING_PROBLEM = "awaiting_problem", _("awaiting a problem fix")


class Source(models.TextChoices):
    PHONE = "phone", _("phone")
    EMAIL = "email", _("e-mail")
    PORTAL = "portal", _("self-service portal")
    WALK_IN = "walk_in", _("walk-in")
    MONITORING = "monitoring", _("monitoring")
    API = "api", _("API")


class ResolutionCode(models.TextChoices):
    KNOWN_ERROR = "known_error", _("resolved by a known error's workaround")
    WORKAROUND = "workaround", _("workaround applied")
    PERMANENT_FIX = "permanent_fix", _("permanent fix")
    CONFIGURATION = "configuration", _("configuration changed")
    USER_INSTRUCTION = "user_instruction", _("user instructed")
    NO_FAULT_FOUND = "no_fault_found", _("no fault found")
    DUPLICATE = "duplicate", _("duplicate")
    OTHER = "other", _("other")


class EscalationKind(models.TextChoices):
    FUNCTIONAL = "functional", _("functional")
    HIERARCHICAL = "hierarchical", _("hierarchical")


class EscalationReason(models.TextChoices):
    INSUFFICIENT_KNOWLEDGE = "insufficient_knowledge", _("insufficient knowledge")
    TIME_EXPIRED = "time_expired", _("time expired")
    OTHER = "other", _("other")


class Level3(models.IntegerChoices):
    HIGH = 1, _("high")
    MEDIUM = 2, _("medium")
    LOW = 3, _("low")


class SeverityBand(models.Model):
    """Severity from the number of users who cannot work (SPEC Table 4), as data."""

    severity = models.PositiveSmallIntegerField(_("severity"), unique=True)
    name = models.CharField(_("name"), max_length=100)
    min_affected_users = models.PositiveIntegerField(
        _("from users blocked"), help_text=_("The band applies from this many blocked users up.")
    )
    description = models.TextField(_("description"), blank=True)

    class Meta:
        ordering = ["severity"]
        verbose_name = _("severity band")
        verbose_name_plural = _("severity bands")

    def __str__(self) -> str:
        return f"{self.severity}: {self.name}"


class PriorityRule(models.Model):
    """Priority = f(impact, urgency), one row per pair; editable in the admin."""

    impact = models.PositiveSmallIntegerField(_("impact"), choices=Level3)
    urgency = models.PositiveSmallIntegerField(_("urgency"), choices=Level3)
    priority = models.PositiveSmallIntegerField(_("priority"))

    class Meta:
        ordering = ["impact", "urgency"]
        verbose_name = _("priority rule")
        verbose_name_plural = _("priority matrix")
        constraints = [
            models.UniqueConstraint(fields=["impact", "urgency"], name="incidents_priority_pair")
        ]

    def __str__(self) -> str:
        return f"impact {self.impact} x urgency {self.urgency} = P{self.priority}"


class Incident(models.Model):
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    source = models.CharField(_("source"), max_length=20, choices=Source, default=Source.PHONE)
    external_ref = models.CharField(
        _("external reference"), max_length=100, blank=True, db_index=True
    )

    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("reporter"), on_delete=models.PROTECT,
        related_name="reported_incidents",
    )  # fmt: skip
    contact_phone = models.CharField(_("contact phone"), max_length=40, blank=True)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    user_group = models.ForeignKey(
        "catalog.UserGroup", verbose_name=_("user group"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="incidents",
    )  # fmt: skip
    service = models.ForeignKey(
        "catalog.Service", verbose_name=_("service"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="incidents",
    )  # fmt: skip
    configuration_item = models.ForeignKey(
        "catalog.ConfigurationItem", verbose_name=_("configuration item"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="incidents",
    )  # fmt: skip
    technology = models.ForeignKey(
        "catalog.Technology", verbose_name=_("technology"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="incidents",
    )  # fmt: skip
    category = models.ForeignKey(
        "catalog.Category", verbose_name=_("category"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="incidents",
    )  # fmt: skip

    affected_users = models.PositiveIntegerField(_("users unable to work"), default=0)
    business_impact = models.TextField(_("business impact"), blank=True)
    impact = models.PositiveSmallIntegerField(_("impact"), choices=Level3, default=Level3.MEDIUM)
    urgency = models.PositiveSmallIntegerField(_("urgency"), choices=Level3, default=Level3.MEDIUM)
    severity = models.PositiveSmallIntegerField(_("severity"))
    # Non-empty when a person set the severity instead of the band table.
    severity_reason = models.CharField(_("severity override reason"), max_length=500, blank=True)
    priority = models.PositiveSmallIntegerField(_("priority"))
    expected_resolution_at = models.DateTimeField(_("expected resolution"), null=True, blank=True)
    # SLA deadlines (kept by the escalation engine).
    respond_by = models.DateTimeField(_("respond by"), null=True, blank=True)
    resolve_by = models.DateTimeField(_("resolve by"), null=True, blank=True)

    owner_group = models.ForeignKey(
        "accounts.SupportGroup", verbose_name=_("owner group"), on_delete=models.PROTECT,
        related_name="owned_incidents",
    )  # fmt: skip
    assigned_group = models.ForeignKey(
        "accounts.SupportGroup", verbose_name=_("assigned group"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="assigned_incidents",
    )  # fmt: skip
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("assignee"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="assigned_incidents",
    )  # fmt: skip
    coordinator = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("coordinator"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="coordinated_incidents",
        help_text=_("The manager who owns the incident after a hierarchical escalation."),
    )  # fmt: skip
    support_level = models.PositiveSmallIntegerField(
        _("support level"), choices=SupportLevel, default=SupportLevel.FIRST
    )

    status = models.CharField(_("status"), max_length=20, choices=Status, default=Status.NEW)
    pending_reason = models.CharField(
        _("pending reason"), max_length=20, choices=PendingReason, blank=True
    )
    resolution_code = models.CharField(
        _("resolution code"), max_length=20, choices=ResolutionCode, blank=True
    )
    resolution = models.TextField(_("resolution"), blank=True)
    satisfaction = models.PositiveSmallIntegerField(_("satisfaction"), null=True, blank=True)
    satisfaction_comment = models.TextField(_("satisfaction comment"), blank=True)
    reopen_count = models.PositiveIntegerField(_("reopened"), default=0)

    opened_at = models.DateTimeField(_("opened"))
    responded_at = models.DateTimeField(_("first response"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"))
    # Optimistic locking: bumped by every change; the API's ETag.
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        indexes = [
            models.Index(fields=["status", "-id"], name="incidents_status_id"),
            models.Index(fields=["assigned_group", "status"], name="incidents_group_status"),
            models.Index(fields=["assignee", "status"], name="incidents_assignee_status"),
            models.Index(fields=["reporter", "-id"], name="incidents_reporter_id"),
            models.Index(fields=["opened_at"], name="incidents_opened_at"),
            models.Index(fields=["severity", "status"], name="incidents_severity_status"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(satisfaction__isnull=True)
                | Q(satisfaction__gte=1, satisfaction__lte=5),
                name="incidents_satisfaction_1_5",
            ),
            models.CheckConstraint(
                condition=Q(support_level__in=[1, 2, 3]), name="incidents_level_1_3"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def number(self) -> str:
        """The human reference (INC-000042), derived from the id."""
        return format_number(self.pk)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


def format_number(pk: int | None) -> str:
    return f"{NUMBER_PREFIX}{pk:06d}" if pk else ""


def parse_number(text: str) -> int | None:
    """``INC-000042`` (any case, zero padding optional) -> 42."""
    value = text.strip().upper()
    if value.startswith(NUMBER_PREFIX):
        digits = value[len(NUMBER_PREFIX) :]
        if digits.isdigit() and 0 < len(digits) <= 10 and int(digits) < 2**31:
            return int(digits)
    return None


class IncidentEvent(models.Model):
    """One immutable entry of an incident's timeline. Types: see ``events.py``."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=40)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField()
    payload = models.JSONField(default=dict)

    class Meta:
        ordering = ["incident", "id"]
        indexes = [
            models.Index(fields=["incident", "id"], name="incidents_event_timeline"),
            models.Index(fields=["type", "at"], name="incidents_event_type_at"),
        ]

    def __str__(self) -> str:
        return f"{self.type} @ {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            raise ValueError("timeline events are immutable")
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise ValueError("timeline events are immutable")


class AssignmentSpan(models.Model):
    """A period during which one group held the incident (for time per group and level)."""

    class EndReason(models.TextChoices):
        REASSIGNED = "reassigned", _("reassigned")
        ESCALATED = "escalated", _("escalated")
        DE_ESCALATED = "de_escalated", _("de-escalated")
        RESOLVED = "resolved", _("resolved")
        CANCELLED = "cancelled", _("cancelled")

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="spans")
    group = models.ForeignKey("accounts.SupportGroup", on_delete=models.PROTECT, related_name="+")
    support_level = models.PositiveSmallIntegerField(choices=SupportLevel)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=20, choices=EndReason, blank=True)

    class Meta:
        ordering = ["incident", "started_at", "id"]
        indexes = [models.Index(fields=["group", "started_at"], name="incidents_span_group")]
        constraints = [
            models.UniqueConstraint(
                fields=["incident"], condition=Q(ended_at__isnull=True),
                name="incidents_one_open_span",
            )
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.group} from {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def duration_seconds(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


class Comment(models.Model):
    """The worklog: public comments (the reporter sees them) and internal notes."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    public = models.BooleanField(default=False)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["incident", "created_at", "id"]

    def __str__(self) -> str:
        return f"{'comment' if self.public else 'note'} by {self.author} @ {self.created_at:%Y-%m-%d %H:%M}"


class Task(models.Model):
    """An action-plan step: assigned to a person or a business partner, with a due date."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(max_length=200)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    partner = models.ForeignKey(
        "catalog.Partner", null=True, blank=True, on_delete=models.PROTECT, related_name="tasks"
    )
    due_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["incident", "id"]

    def __str__(self) -> str:
        return self.title
