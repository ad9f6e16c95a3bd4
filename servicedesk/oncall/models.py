"""On-call schedules (per support group: layers of rotations, overrides) and pages."""

from __future__ import annotations

from datetime import datetime, time

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from servicedesk.escalation.calendars import Calendar

from . import rotation as rot


class OnCallSchedule(models.Model):
    """A support group's on-call pager schedule, kept by the group's manager."""

    group = models.OneToOneField(
        "accounts.SupportGroup", on_delete=models.CASCADE, related_name="oncall_schedule",
        verbose_name=_("support group"),
    )  # fmt: skip
    name = models.CharField(_("name"), max_length=100)
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC")
    description = models.TextField(_("description"), blank=True)
    # The calendar subscription's secret (SHA-256 of it; empty: no feed). A
    # calendar application cannot send a bearer token, so the feed URL carries
    # a key that reads this one schedule and nothing else.
    feed_key_digest = models.CharField(max_length=64, blank=True, default="", editable=False)
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("on-call schedule")
        verbose_name_plural = _("on-call schedules")

    def __str__(self) -> str:
        return self.name


class RotationKind(models.TextChoices):
    DAILY = "daily", _("daily")
    WEEKLY = "weekly", _("weekly")
    CUSTOM = "custom", _("custom shift length")


class OnCallLayer(models.Model):
    """A rotation of people; the first layer is the primary responder, the next
    ones are paged in turn when nobody acknowledges."""

    schedule = models.ForeignKey(OnCallSchedule, on_delete=models.CASCADE, related_name="layers")
    position = models.PositiveSmallIntegerField(_("position"))
    name = models.CharField(_("name"), max_length=100)
    rotation = models.CharField(
        _("rotation"), max_length=10, choices=RotationKind, default=RotationKind.WEEKLY
    )
    shift_length = models.PositiveIntegerField(
        _("shift length (seconds)"), null=True, blank=True, help_text=_("custom rotations only")
    )
    starts_on = models.DateField(_("starts on"))
    handoff_time = models.TimeField(_("hand-off time"), default=time(9, 0))
    restriction = models.JSONField(
        _("active hours"), default=dict, blank=True,
        help_text=_('Empty: always. Else per weekday, e.g. {"sat": [["00:00", "24:00"]]}.'),
    )  # fmt: skip
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="OnCallMember", related_name="+", blank=True
    )

    class Meta:
        ordering = ["schedule", "position"]
        verbose_name = _("on-call layer")
        verbose_name_plural = _("on-call layers")
        constraints = [
            models.UniqueConstraint(fields=["schedule", "position"], name="oncall_layer_position"),
            models.CheckConstraint(
                condition=~Q(rotation="custom") | Q(shift_length__gte=3600),
                name="oncall_layer_custom_length",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.schedule}: {self.name}"

    def spec(self, member_ids: list[int]) -> rot.Layer:
        tz = self.schedule.time_zone
        start = datetime.combine(self.starts_on, self.handoff_time)
        return rot.Layer(
            id=self.pk,
            name=self.name,
            rotation=rot.Rotation(
                time_zone=tz,
                start=start,
                length=rot.rotation_length(self.rotation, self.shift_length),
                members=tuple(member_ids),
            ),
            restriction=(
                Calendar.business_hours(self.restriction, time_zone=tz)
                if self.restriction
                else None
            ),
        )


class OnCallMember(models.Model):
    layer = models.ForeignKey(OnCallLayer, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["layer", "position"]
        constraints = [
            models.UniqueConstraint(fields=["layer", "position"], name="oncall_member_position")
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.user}"


class OnCallOverride(models.Model):
    """Someone else covers a layer for a period (a swap, a holiday, an imported shift)."""

    schedule = models.ForeignKey(OnCallSchedule, on_delete=models.CASCADE, related_name="overrides")
    layer = models.ForeignKey(
        OnCallLayer, null=True, blank=True, on_delete=models.CASCADE, related_name="overrides",
        help_text=_("Empty: the first layer (the primary responder)."),
    )  # fmt: skip
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    # Set for shifts imported from an iCal feed: re-importing replaces them.
    ical_uid = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["schedule", "starts_at"]
        verbose_name = _("on-call override")
        verbose_name_plural = _("on-call overrides")
        indexes = [models.Index(fields=["schedule", "ends_at"], name="oncall_override_active")]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="oncall_override_ends_after"
            )
        ]

    def __str__(self) -> str:
        return f"{self.person} {self.starts_at:%Y-%m-%d %H:%M}-{self.ends_at:%Y-%m-%d %H:%M}"


class PageState(models.TextChoices):
    PAGING = "paging", _("waiting for acknowledgement")
    ACKNOWLEDGED = "acknowledged", _("acknowledged")
    EXHAUSTED = "exhausted", _("nobody acknowledged")
    CANCELLED = "cancelled", _("cancelled")


class Page(models.Model):
    """A page for an incident to a group's on-call responders, one after another
    until someone acknowledges."""

    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.CASCADE, related_name="pages"
    )
    group = models.ForeignKey("accounts.SupportGroup", on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=15, choices=PageState, default=PageState.PAGING)
    # The responders in paging order (user ids), fixed when the page starts.
    responders = models.JSONField(default=list)
    attempt = models.PositiveSmallIntegerField(default=0)
    person = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="+", help_text=_("The responder paged last."),
    )  # fmt: skip
    ack_within = models.PositiveIntegerField(_("acknowledge within (seconds)"))
    ack_by = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("page")
        verbose_name_plural = _("pages")
        indexes = [models.Index(fields=["incident", "state"], name="oncall_page_incident")]

    def __str__(self) -> str:
        return f"Page {self.pk} ({self.state})"


class PageAttempt(models.Model):
    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveSmallIntegerField()
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    ack_by = models.DateTimeField()

    class Meta:
        ordering = ["page", "number"]
        constraints = [
            models.UniqueConstraint(fields=["page", "number"], name="oncall_page_attempt_once")
        ]

    def __str__(self) -> str:
        return f"attempt {self.number}: {self.person}"
