"""Pre-aggregated report facts and scheduled reports.

Facts are a cache of what the timeline says, one row per incident (and one
per incident and group that held it). They are recomputed from the whole
timeline and the spans whenever an incident gets an event (``listeners.py``),
so a late or out-of-order event changes them exactly; ``servicedesk reports
rebuild`` recomputes them all. Reports aggregate these rows with SQL, which is
what keeps them fast at a million incidents (docs/performance/reports.md).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class IncidentFact(models.Model):
    """What the reports need to know about one incident, derived from its timeline."""

    incident = models.OneToOneField(
        "incidents.Incident", primary_key=True, on_delete=models.CASCADE, related_name="report_fact"
    )
    opened_at = models.DateTimeField()
    # Classification as it stands now (filters and groupings).
    severity = models.PositiveSmallIntegerField()
    service = models.ForeignKey(
        "catalog.Service", null=True, blank=True, on_delete=models.DO_NOTHING, related_name="+",
        db_constraint=False,
    )  # fmt: skip
    technology = models.ForeignKey(
        "catalog.Technology", null=True, blank=True, on_delete=models.DO_NOTHING, related_name="+",
        db_constraint=False,
    )  # fmt: skip
    user_group = models.ForeignKey(
        "catalog.UserGroup", null=True, blank=True, on_delete=models.DO_NOTHING, related_name="+",
        db_constraint=False,
    )  # fmt: skip
    status = models.CharField(max_length=20)
    is_open = models.BooleanField()
    # Where the incident is now (open incidents): the group holding the open span.
    current_group = models.ForeignKey(
        "accounts.SupportGroup", null=True, blank=True, on_delete=models.DO_NOTHING,
        related_name="+", db_constraint=False,
    )  # fmt: skip
    current_level = models.PositiveSmallIntegerField()
    reached_l1 = models.BooleanField(default=False)
    reached_l2 = models.BooleanField(default=False)
    reached_l3 = models.BooleanField(default=False)
    reopen_count = models.PositiveIntegerField(default=0)

    # The final resolution (status resolved or closed now); null otherwise.
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_level = models.PositiveSmallIntegerField(null=True, blank=True)
    resolved_group = models.ForeignKey(
        "accounts.SupportGroup", null=True, blank=True, on_delete=models.DO_NOTHING,
        related_name="+", db_constraint=False,
    )  # fmt: skip
    # Time to restore service: the time spent in open states, up to the final resolution.
    restore_seconds = models.FloatField(null=True, blank=True)
    restore_business_seconds = models.FloatField(null=True, blank=True)
    pending_seconds = models.FloatField(default=0)
    # Pending on the user or a vendor: the SLA clock stops.
    sla_paused_seconds = models.FloatField(default=0)
    target_seconds = models.FloatField(null=True, blank=True)
    resolve_by = models.DateTimeField(null=True, blank=True)
    in_target = models.BooleanField(null=True, blank=True)

    closed_at = models.DateTimeField(null=True, blank=True)
    satisfaction = models.PositiveSmallIntegerField(null=True, blank=True)
    # The moment of the resolution the end user was told about (see docs/metrics.md).
    notified_for = models.DateTimeField(null=True, blank=True)
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name = _("incident report fact")
        # The period indexes (opened_at, resolved_at) are made per database in
        # migration 0002: covering indexes on PostgreSQL, plain ones on SQLite.
        indexes = [
            models.Index(
                fields=["current_group"], name="reports_fact_open", condition=Q(is_open=True)
            ),
        ]

    def __str__(self) -> str:
        return f"facts of incident {self.incident_id}"

    @property
    def notified(self) -> bool:
        return self.resolved_at is not None and self.notified_for == self.resolved_at


class IncidentGroupFact(models.Model):
    """The time one group held one incident (the sum of its spans), with the
    incident's filters copied so time-per-group needs no join."""

    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.CASCADE, related_name="report_group_facts"
    )
    group = models.ForeignKey(
        "accounts.SupportGroup", on_delete=models.DO_NOTHING, related_name="+", db_constraint=False
    )
    support_level = models.PositiveSmallIntegerField()
    spans = models.PositiveIntegerField()
    seconds = models.FloatField()
    business_seconds = models.FloatField()
    # Copied from the incident fact (filters of time-per-group).
    opened_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    severity = models.PositiveSmallIntegerField()
    service = models.ForeignKey(
        "catalog.Service", null=True, blank=True, on_delete=models.DO_NOTHING, related_name="+",
        db_constraint=False,
    )  # fmt: skip
    technology = models.ForeignKey(
        "catalog.Technology", null=True, blank=True, on_delete=models.DO_NOTHING, related_name="+",
        db_constraint=False,
    )  # fmt: skip
    user_group = models.ForeignKey(
        "catalog.UserGroup", null=True, blank=True, on_delete=models.DO_NOTHING, related_name="+",
        db_constraint=False,
    )  # fmt: skip

    class Meta:
        verbose_name = _("incident time per group")
        constraints = [
            models.UniqueConstraint(fields=["incident", "group"], name="reports_group_fact_unique")
        ]
        # The resolved_at index is made per database in migration 0002.
        indexes = [models.Index(fields=["group", "incident"], name="reports_gfact_group")]

    def __str__(self) -> str:
        return f"incident {self.incident_id} at group {self.group_id}: {self.seconds:.0f}s"


class FactWatermark(models.Model):
    """Up to when a periodic job has read a table (e.g. the outbox)."""

    name = models.CharField(max_length=100, unique=True)
    last_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} @ {self.last_at}"


class ScheduledReport(models.Model):
    """A report e-mailed to a list of addresses on a schedule."""

    class Frequency(models.TextChoices):
        DAILY = "daily", _("daily")
        WEEKLY = "weekly", _("weekly (Mondays)")
        MONTHLY = "monthly", _("monthly (the 1st)")

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "XLSX"

    name = models.CharField(_("name"), max_length=200)
    report = models.CharField(_("report"), max_length=60)
    # Filters as the API takes them (severity, service, technology, ...).
    filters = models.JSONField(_("filters"), default=dict, blank=True)
    frequency = models.CharField(
        _("frequency"), max_length=10, choices=Frequency, default=Frequency.WEEKLY
    )
    format = models.CharField(_("format"), max_length=5, choices=Format, default=Format.XLSX)
    recipients = models.TextField(_("recipients"), help_text=_("E-mail addresses, one a line."))
    is_active = models.BooleanField(_("active"), default=True)
    next_run_at = models.DateTimeField(_("next run"))
    last_sent_at = models.DateTimeField(_("last sent"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"))

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("scheduled report")
        verbose_name_plural = _("scheduled reports")
        indexes = [
            models.Index(
                fields=["next_run_at"], name="reports_schedule_due", condition=Q(is_active=True)
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def recipient_list(self) -> list[str]:
        return [line.strip() for line in self.recipients.splitlines() if line.strip()]


class MonthlyCount(models.Model):
    """Incidents registered (``opened``) or finally resolved (``resolved``) per month of
    the reporting time zone and per filter value: the pre-aggregate behind
    incidents-by-period. Kept exact by the same recomputation as the facts: each
    refresh subtracts the incident's old cell and adds its new one (``rollup.py``).
    Catalogue references use 0 for "none" so the unique key has no NULLs."""

    kind = models.CharField(max_length=8)
    month = models.DateField()
    severity = models.PositiveSmallIntegerField()
    service = models.BigIntegerField()
    technology = models.BigIntegerField()
    user_group = models.BigIntegerField()
    # Levels the incidents reached: bit 1 = 1st line, 2 = 2nd, 4 = 3rd.
    reached = models.PositiveSmallIntegerField()
    n = models.IntegerField(default=0)

    class Meta:
        verbose_name = _("monthly incident count")
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "month", "severity", "service", "technology", "user_group",
                        "reached"],
                name="reports_monthly_cell",
            )
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.kind} {self.month:%Y-%m}: {self.n}"


class PendingFact(models.Model):
    """An incident whose facts are behind its timeline (``pending.py``).

    Services mark the incident in the transaction of its change (one upsert,
    bumping ``seq``); the worker recomputes the facts of many incidents at once
    and removes the marks it saw, unless ``seq`` moved meanwhile. Reports catch
    up on what is still marked before they read, so they stay exact.
    """

    incident_id = models.BigIntegerField(primary_key=True)
    seq = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("incident with facts to recompute")

    def __str__(self) -> str:
        return f"incident {self.incident_id} (change {self.seq})"
