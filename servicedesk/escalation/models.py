"""The escalation matrix (policies and their steps), business calendars, and each
incident's SLA clocks and escalation progress."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from servicedesk.accounts.models import SupportLevel

from . import calendars


class CalendarKind(models.TextChoices):
    ALWAYS = "24x7", _("24x7 (calendar time)")
    BUSINESS_HOURS = "business_hours", _("business hours")


class BusinessCalendar(models.Model):
    """When SLA clocks and escalation offsets run: 24x7, or opening hours in a time
    zone minus public holidays (``holidays`` package) and extra closed days."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    kind = models.CharField(
        _("kind"), max_length=20, choices=CalendarKind, default=CalendarKind.ALWAYS
    )
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC")
    hours = models.JSONField(
        _("opening hours"), default=dict, blank=True,
        help_text=_('Per weekday, e.g. {"mon": [["09:00", "18:00"]], ...}; business hours only.'),
    )  # fmt: skip
    country = models.CharField(
        _("holidays of country"), max_length=8, blank=True,
        help_text=_("ISO code for public holidays, e.g. RU, DE, US; empty for none."),
    )  # fmt: skip
    subdivision = models.CharField(_("holidays of region"), max_length=16, blank=True)
    extra_holidays = models.JSONField(_("extra closed days"), default=list, blank=True)
    extra_workdays = models.JSONField(_("extra working days"), default=list, blank=True)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("business calendar")
        verbose_name_plural = _("business calendars")

    def __str__(self) -> str:
        return self.name

    def spec(self) -> calendars.Calendar:
        """The pure calendar this row describes (raises CalendarError when invalid)."""
        if self.kind == CalendarKind.ALWAYS:
            return calendars.Calendar(time_zone=self.time_zone or "UTC")
        return calendars.Calendar.business_hours(
            self.hours or {}, time_zone=self.time_zone or "UTC", country=self.country,
            subdivision=self.subdivision,
            extra_holidays=[date.fromisoformat(str(d)) for d in self.extra_holidays or ()],
            extra_workdays=[date.fromisoformat(str(d)) for d in self.extra_workdays or ()],
        )  # fmt: skip

    def snapshot(self) -> dict[str, Any]:
        return {"id": self.pk, "name": self.name, **self.spec().to_dict()}


class Scope(models.TextChoices):
    ALL = "all", _("all incidents")
    CONFIGURATION_ITEM = "configuration_item", _("configuration item")
    SERVICE = "service", _("service")
    TECHNOLOGY = "technology", _("technology")
    USER_GROUP = "user_group", _("user group")


# The most specific policy wins (the issue): CI > service > technology > user group > all.
SPECIFICITY = {
    Scope.CONFIGURATION_ITEM: 4,
    Scope.SERVICE: 3,
    Scope.TECHNOLOGY: 2,
    Scope.USER_GROUP: 1,
    Scope.ALL: 0,
}
SCOPE_FIELDS = ("configuration_item", "service", "technology", "user_group")


class Offsets(models.TextChoices):
    PER_STEP = "per_step", _("each step counts from the previous one")
    FROM_OPEN = "from_open", _("each step counts from the opening")


class EscalationPolicy(models.Model):
    """One row of the escalation matrix: targets and ordered steps for a severity,
    for all incidents or for a CI, service, technology or user group."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    severity = models.PositiveSmallIntegerField(_("severity"))
    scope = models.CharField(_("applies to"), max_length=20, choices=Scope, default=Scope.ALL)
    configuration_item = models.ForeignKey(
        "catalog.ConfigurationItem", null=True, blank=True, on_delete=models.CASCADE,
        related_name="+", verbose_name=_("configuration item"),
    )  # fmt: skip
    service = models.ForeignKey(
        "catalog.Service", null=True, blank=True, on_delete=models.CASCADE, related_name="+",
        verbose_name=_("service"),
    )  # fmt: skip
    technology = models.ForeignKey(
        "catalog.Technology", null=True, blank=True, on_delete=models.CASCADE, related_name="+",
        verbose_name=_("technology"),
    )  # fmt: skip
    user_group = models.ForeignKey(
        "catalog.UserGroup", null=True, blank=True, on_delete=models.CASCADE, related_name="+",
        verbose_name=_("user group"),
    )  # fmt: skip
    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.PROTECT, related_name="policies",
        verbose_name=_("calendar"),
    )  # fmt: skip
    offsets = models.CharField(
        _("offsets"), max_length=20, choices=Offsets, default=Offsets.PER_STEP
    )
    respond_within = models.PositiveIntegerField(_("respond within (seconds)"))
    resolve_within = models.PositiveIntegerField(_("resolve within (seconds)"))
    active = models.BooleanField(_("active"), default=True)
    description = models.TextField(_("description"), blank=True)
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["severity", "name"]
        verbose_name = _("escalation policy")
        verbose_name_plural = _("escalation policies")
        constraints = [
            models.CheckConstraint(
                name="escalation_policy_scope_target",
                condition=(
                    Q(
                        scope="all",
                        configuration_item__isnull=True,
                        service__isnull=True,
                        technology__isnull=True,
                        user_group__isnull=True,
                    )
                    | Q(
                        scope="configuration_item",
                        configuration_item__isnull=False,
                        service__isnull=True,
                        technology__isnull=True,
                        user_group__isnull=True,
                    )
                    | Q(
                        scope="service",
                        service__isnull=False,
                        configuration_item__isnull=True,
                        technology__isnull=True,
                        user_group__isnull=True,
                    )
                    | Q(
                        scope="technology",
                        technology__isnull=False,
                        configuration_item__isnull=True,
                        service__isnull=True,
                        user_group__isnull=True,
                    )
                    | Q(
                        scope="user_group",
                        user_group__isnull=False,
                        configuration_item__isnull=True,
                        service__isnull=True,
                        technology__isnull=True,
                    )
                ),
            ),
            models.CheckConstraint(
                name="escalation_policy_targets_positive",
                condition=Q(respond_within__gt=0, resolve_within__gt=0),
            ),
            # One active policy per severity and target: "the most specific wins"
            # must never have to choose between equals.
            models.UniqueConstraint(
                fields=["severity"],
                condition=Q(active=True, scope="all"),
                name="escalation_policy_one_default",
            ),
            *[
                models.UniqueConstraint(
                    fields=["severity", name],
                    condition=Q(active=True, scope=name),
                    name=f"escalation_policy_one_per_{name}",
                )
                for name in SCOPE_FIELDS
            ],
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def target(self) -> Any:
        return None if self.scope == Scope.ALL else getattr(self, self.scope)


class StepKind(models.TextChoices):
    ASSIGN = "assign", _("assign to a support level (functional)")
    PAGE = "page", _("page the on-call person")
    NOTIFY_MANAGER = "notify_manager", _("notify the next manager (hierarchical)")
    EMERGENCY_MEETING = "emergency_meeting", _("convene an emergency meeting")
    WEBHOOK = "webhook", _("call an outgoing webhook")


class PolicyStep(models.Model):
    """One ordered step of a policy. ``after`` counts from the previous step or from
    the opening (the policy's ``offsets``), in the policy calendar's business time."""

    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(_("position"))
    kind = models.CharField(_("kind"), max_length=20, choices=StepKind)
    support_level = models.PositiveSmallIntegerField(
        _("support level"), choices=SupportLevel, null=True, blank=True,
        help_text=_("assign: the level to reach; page: whose on-call (empty: the current group)."),
    )  # fmt: skip
    after = models.PositiveIntegerField(_("after (seconds)"), default=0)
    ack_within = models.PositiveIntegerField(
        _("acknowledge within (seconds)"), null=True, blank=True,
        help_text=_("page: when to page the next responder."),
    )  # fmt: skip
    starts_in = models.PositiveIntegerField(_("meeting starts in (seconds)"), null=True, blank=True)
    bridge = models.CharField(_("bridge details"), max_length=500, blank=True)
    url = models.URLField(_("webhook URL"), max_length=500, blank=True)
    secret = models.CharField(_("webhook signing secret"), max_length=200, blank=True)

    class Meta:
        ordering = ["policy", "position"]
        verbose_name = _("escalation step")
        verbose_name_plural = _("escalation steps")
        constraints = [
            models.UniqueConstraint(fields=["policy", "position"], name="escalation_step_position")
        ]

    def __str__(self) -> str:
        level = f" L{self.support_level}" if self.support_level else ""
        return f"{self.position}. {self.kind}{level} after {self.after}s"


class ClockStatus(models.TextChoices):
    RUNNING = "running", _("running")
    PAUSED = "paused", _("paused")
    STOPPED = "stopped", _("stopped")


class IncidentEscalation(models.Model):
    """An incident's SLA clocks and escalation progress: one row per incident.

    Both clocks (respond, resolve) count the policy calendar's business time
    from the opening and pause together; ``consumed`` is the time banked up
    to ``running_since`` (None while paused or stopped). ``snapshot`` is the
    policy as it was when the incident started (or last changed severity), so
    editing the matrix changes new incidents, not running ones.
    """

    incident = models.OneToOneField(
        "incidents.Incident", primary_key=True, on_delete=models.CASCADE, related_name="escalation"
    )
    policy = models.ForeignKey(
        EscalationPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    snapshot = models.JSONField(default=dict)
    generation = models.PositiveIntegerField(
        default=1, help_text=_("Bumped when the plan is recomputed (severity or scope changed).")
    )
    status = models.CharField(max_length=10, choices=ClockStatus, default=ClockStatus.RUNNING)
    pause_reason = models.CharField(max_length=20, blank=True)
    consumed = models.FloatField(default=0.0)
    running_since = models.DateTimeField(null=True, blank=True)
    respond_stopped_at = models.DateTimeField(null=True, blank=True)
    respond_elapsed = models.FloatField(null=True, blank=True)
    resolve_stopped_at = models.DateTimeField(null=True, blank=True)
    resolve_elapsed = models.FloatField(null=True, blank=True)
    respond_breached_at = models.DateTimeField(null=True, blank=True)
    resolve_breached_at = models.DateTimeField(null=True, blank=True)
    # clock name -> the threshold percents already announced
    thresholds = models.JSONField(default=dict, blank=True)
    next_step = models.PositiveSmallIntegerField(default=0)
    # Pending on a problem's fix: the clocks run, the steps wait (engine.py).
    steps_held = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("incident SLA and escalation")
        verbose_name_plural = _("incident SLAs and escalations")

    def __str__(self) -> str:
        return f"{self.snapshot.get('name', '-')} ({self.status})"


class StepState(models.TextChoices):
    DONE = "done", _("done")
    SKIPPED = "skipped", _("skipped")
    FAILED = "failed", _("failed")


class EscalationStep(models.Model):
    """The log of fired steps: one row per step of a plan generation, never two
    (the unique constraint backs the worker's exactly-once perform)."""

    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.CASCADE, related_name="escalation_steps"
    )
    generation = models.PositiveIntegerField()
    index = models.PositiveSmallIntegerField()
    policy_name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=StepKind)
    support_level = models.PositiveSmallIntegerField(null=True, blank=True)
    target = models.CharField(max_length=500, blank=True)
    due_at = models.DateTimeField()
    performed_at = models.DateTimeField()
    state = models.CharField(max_length=10, choices=StepState)
    detail = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["incident", "performed_at", "id"]
        verbose_name = _("fired escalation step")
        verbose_name_plural = _("fired escalation steps")
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "generation", "index"], name="escalation_step_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.index + 1} ({self.state})"


class EmergencyMeeting(models.Model):
    """Convened by an escalation step: who, when and how to join."""

    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.CASCADE, related_name="emergency_meetings"
    )
    starts_at = models.DateTimeField(_("starts at"))
    bridge = models.CharField(_("bridge details"), max_length=500, blank=True)
    participants = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="emergency_meetings", blank=True
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-starts_at"]
        verbose_name = _("emergency meeting")
        verbose_name_plural = _("emergency meetings")

    def __str__(self) -> str:
        return (
            f"Emergency meeting on incident {self.incident_id} at {self.starts_at:%Y-%m-%d %H:%M}"
        )
