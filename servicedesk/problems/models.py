"""Problem control: problems, their timeline and spans, links to incidents,
candidates, selection criteria, root-cause analysis artefacts and reviews."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from servicedesk.accounts.models import SupportLevel

NUMBER_PREFIX = "PRB-"


class Status(models.TextChoices):
    NEW = "new", _("new")
    UNDER_INVESTIGATION = "under_investigation", _("under investigation")
    ROOT_CAUSE_KNOWN = "root_cause_known", _("root cause known")
    RESOLVED = "resolved", _("resolved")
    CLOSED = "closed", _("closed")
    DEFERRED = "deferred", _("deferred")


# The cause is not found yet (SPEC Table 2: "open problems").
CAUSE_UNKNOWN_STATUSES = (Status.NEW, Status.UNDER_INVESTIGATION, Status.DEFERRED)
OPEN_STATUSES = (*CAUSE_UNKNOWN_STATUSES, Status.ROOT_CAUSE_KNOWN)


class Source(models.TextChoices):
    MANUAL = "manual", _("raised by hand")
    SEVERITY = "severity", _("high-severity incident")
    ESCALATION = "escalation", _("incident escalated to the 3rd line")
    REVIEW = "review", _("picked at the review meeting")
    TREND = "trend", _("trend analysis")


class Problem(models.Model):
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    source = models.CharField(_("source"), max_length=20, choices=Source, default=Source.MANUAL)

    technology = models.ForeignKey(
        "catalog.Technology", verbose_name=_("technology"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="problems",
    )  # fmt: skip
    service = models.ForeignKey(
        "catalog.Service", verbose_name=_("service"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="problems",
    )  # fmt: skip
    category = models.ForeignKey(
        "catalog.Category", verbose_name=_("category"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="problems",
    )  # fmt: skip
    configuration_items = models.ManyToManyField(
        "catalog.ConfigurationItem", verbose_name=_("configuration items"), blank=True,
        related_name="problems",
    )  # fmt: skip
    user_groups = models.ManyToManyField(
        "catalog.UserGroup", verbose_name=_("user groups affected"), blank=True,
        related_name="problems",
    )  # fmt: skip

    priority = models.PositiveSmallIntegerField(_("priority"), default=3)
    major = models.BooleanField(_("major problem"), default=False)
    # Selection factors a person estimates (the rest are computed from links).
    users_affected = models.PositiveIntegerField(_("users affected"), default=0)
    business_impact = models.PositiveSmallIntegerField(
        _("business impact (0-5)"), default=0,
        help_text=_("0 none, 5 critical business processes stop."),
    )  # fmt: skip
    cost_estimate = models.DecimalField(
        _("cost of the problem"), max_digits=14, decimal_places=2, default=0,
        help_text=_("What the problem costs the business (lost work, penalties) per month."),
    )  # fmt: skip
    score = models.FloatField(_("selection score"), default=0)

    owner_group = models.ForeignKey(
        "accounts.SupportGroup", verbose_name=_("owner group"), on_delete=models.PROTECT,
        related_name="owned_problems",
    )  # fmt: skip
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="owned_problems",
    )  # fmt: skip
    assigned_group = models.ForeignKey(
        "accounts.SupportGroup", verbose_name=_("assigned group"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="assigned_problems",
    )  # fmt: skip
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("assignee"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="assigned_problems",
    )  # fmt: skip
    support_level = models.PositiveSmallIntegerField(
        _("support level"), choices=SupportLevel, default=SupportLevel.SECOND
    )
    team = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("team"), blank=True, related_name="problem_teams",
        help_text=_("The cross-disciplinary team investigating the problem."),
    )  # fmt: skip

    status = models.CharField(_("status"), max_length=24, choices=Status, default=Status.NEW)
    deferred_reason = models.TextField(_("why deferred"), blank=True)
    root_cause = models.TextField(_("root cause"), blank=True)
    workaround = models.TextField(_("workaround"), blank=True)
    resolution = models.TextField(_("resolution"), blank=True)
    close_reason = models.TextField(_("close reason"), blank=True)

    # Portfolio: the estimate made at opening and the investigation time spent.
    cause_estimate_hours = models.PositiveIntegerField(_("estimate to find the cause (hours)"))
    investigation_seconds = models.BigIntegerField(default=0)
    investigation_started_at = models.DateTimeField(null=True, blank=True)

    opened_at = models.DateTimeField(_("opened"))
    root_cause_found_at = models.DateTimeField(_("root cause found"), null=True, blank=True)
    deferred_at = models.DateTimeField(_("deferred"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(_("updated"))
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("problem")
        verbose_name_plural = _("problems")
        indexes = [
            models.Index(fields=["status", "-id"], name="problems_status_id"),
            models.Index(fields=["opened_at"], name="problems_opened_at"),
            models.Index(fields=["status", "-score"], name="problems_status_score"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(support_level__in=[1, 2, 3]), name="problems_level_1_3"),
            models.CheckConstraint(condition=Q(priority__gte=1, priority__lte=5), name="problems_priority_1_5"),
            models.CheckConstraint(condition=Q(business_impact__lte=5), name="problems_impact_0_5"),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def number(self) -> str:
        return format_number(self.pk)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


def format_number(pk: int | None) -> str:
    return f"{NUMBER_PREFIX}{pk:06d}" if pk else ""


class ProblemEvent(models.Model):
    """One immutable entry of a problem's timeline. Types: see ``events.py``."""

    problem = models.ForeignKey(Problem, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=40)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField()
    payload = models.JSONField(default=dict)

    class Meta:
        ordering = ["problem", "id"]
        indexes = [
            models.Index(fields=["problem", "id"], name="problems_event_timeline"),
            models.Index(fields=["type", "at"], name="problems_event_type_at"),
        ]

    def __str__(self) -> str:
        return f"{self.type} @ {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            raise ValueError("timeline events are immutable")
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise ValueError("timeline events are immutable")


class ProblemSpan(models.Model):
    """A period during which one group held the problem (time per group and level,
    SPEC Table 2). Same fields as ``incidents.AssignmentSpan``."""

    class EndReason(models.TextChoices):
        REASSIGNED = "reassigned", _("reassigned")
        ESCALATED = "escalated", _("escalated")
        DE_ESCALATED = "de_escalated", _("de-escalated")
        DEFERRED = "deferred", _("deferred")
        RESOLVED = "resolved", _("resolved")
        CLOSED = "closed", _("closed")

    problem = models.ForeignKey(Problem, on_delete=models.CASCADE, related_name="spans")
    group = models.ForeignKey("accounts.SupportGroup", on_delete=models.PROTECT, related_name="+")
    support_level = models.PositiveSmallIntegerField(choices=SupportLevel)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=20, choices=EndReason, blank=True)

    class Meta:
        ordering = ["problem", "started_at", "id"]
        indexes = [models.Index(fields=["group", "started_at"], name="problems_span_group")]
        constraints = [
            models.UniqueConstraint(
                fields=["problem"],
                condition=Q(ended_at__isnull=True),
                name="problems_one_open_span",
            )
        ]

    def __str__(self) -> str:
        return f"{self.group} from {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def duration_seconds(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


class ProblemIncident(models.Model):
    """An incident caused by a problem: many incidents, one problem each."""

    problem = models.ForeignKey(Problem, on_delete=models.CASCADE, related_name="incident_links")
    incident = models.OneToOneField(
        "incidents.Incident", on_delete=models.CASCADE, related_name="problem_link"
    )
    linked_at = models.DateTimeField()
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["problem", "id"]

    def __str__(self) -> str:
        return f"{self.incident_id} -> {self.problem_id}"


class Candidate(models.Model):
    """A proposal to open (or extend) a problem, with its evidence.

    Automatic candidates come one per incident (a severity-1 incident, an
    incident escalated to the 3rd line); trend candidates one per cluster
    ``fingerprint`` while open. The problem manager accepts (a new or an
    existing problem) or dismisses them.
    """

    class State(models.TextChoices):
        OPEN = "open", _("open")
        ACCEPTED = "accepted", _("accepted")
        DISMISSED = "dismissed", _("dismissed")

    source = models.CharField(max_length=20, choices=Source)
    incident = models.ForeignKey(
        "incidents.Incident", null=True, blank=True, on_delete=models.CASCADE,
        related_name="problem_candidates",
    )  # fmt: skip
    incidents = models.ManyToManyField("incidents.Incident", blank=True, related_name="+")
    fingerprint = models.CharField(max_length=200, blank=True)
    title = models.CharField(max_length=200)
    reasons = models.JSONField(default=list)
    evidence = models.JSONField(default=dict)
    state = models.CharField(max_length=12, choices=State, default=State.OPEN)
    problem = models.ForeignKey(
        Problem, null=True, blank=True, on_delete=models.SET_NULL, related_name="candidates"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("problem candidate")
        indexes = [models.Index(fields=["state", "-id"], name="problems_candidate_state")]
        constraints = [
            models.UniqueConstraint(
                fields=["incident"], condition=Q(incident__isnull=False),
                name="problems_candidate_one_per_incident",
            ),
            models.UniqueConstraint(
                fields=["fingerprint"], condition=Q(state="open") & ~Q(fingerprint=""),
                name="problems_candidate_one_open_cluster",
            ),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.source}: {self.title}"


class SelectionFactor(models.Model):
    """A weighted criterion for choosing which problems to investigate (SPEC 3:
    "set like criteria for selecting new projects"). Each factor is scaled to
    0..1 (a count saturates at ``cap``); the score is the weighted mean x 100."""

    class Key(models.TextChoices):
        LINKED_INCIDENTS = "linked_incidents", _("linked incidents")
        SEVERITY = "severity", _("worst severity of linked incidents")
        USERS_AFFECTED = "users_affected", _("users affected")
        BUSINESS_IMPACT = "business_impact", _("business impact")
        COST = "cost", _("cost of the problem")

    key = models.CharField(max_length=30, choices=Key, unique=True)
    weight = models.FloatField(default=1.0)
    cap = models.FloatField(
        default=1.0, help_text=_("The value at which the factor counts in full (counts, money).")
    )

    class Meta:
        ordering = ["key"]
        verbose_name = _("selection factor")

    def __str__(self) -> str:
        return f"{self.get_key_display()} x {self.weight}"


# ---- root-cause analysis ---------------------------------------------------------------


class IshikawaCause(models.Model):
    """A cause on a fishbone diagram: a category bone, and sub-causes under causes."""

    problem = models.ForeignKey(Problem, on_delete=models.CASCADE, related_name="ishikawa")
    category = models.CharField(max_length=60)
    text = models.CharField(max_length=500)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="sub_causes"
    )
    is_root_cause = models.BooleanField(default=False)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["problem", "position", "id"]

    def __str__(self) -> str:
        return f"{self.category}: {self.text}"


class WhyStep(models.Model):
    """One step of a 5 whys chain: why? -> because."""

    problem = models.ForeignKey(Problem, on_delete=models.CASCADE, related_name="whys")
    position = models.PositiveIntegerField()
    question = models.TextField()
    answer = models.TextField()

    class Meta:
        ordering = ["problem", "position"]
        constraints = [
            models.UniqueConstraint(fields=["problem", "position"], name="problems_why_position")
        ]

    def __str__(self) -> str:
        return f"why {self.position}: {self.question}"


class KepnerTregoeRow(models.Model):
    """A row of a Kepner-Tregoe problem specification: what the problem IS and IS NOT."""

    class Dimension(models.TextChoices):
        WHAT = "what", _("what")
        WHERE = "where", _("where")
        WHEN = "when", _("when")
        EXTENT = "extent", _("extent")

    problem = models.ForeignKey(Problem, on_delete=models.CASCADE, related_name="kepner_tregoe")
    dimension = models.CharField(max_length=10, choices=Dimension)
    question = models.CharField(max_length=300, blank=True)
    is_text = models.TextField(blank=True)
    is_not_text = models.TextField(blank=True)
    distinctions = models.TextField(blank=True)
    changes = models.TextField(blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["problem", "position", "id"]

    def __str__(self) -> str:
        return f"{self.dimension}: {self.is_text} / {self.is_not_text}"


# ---- problem reviews -------------------------------------------------------------------


class ProblemReview(models.Model):
    """A (major) problem review: what went well, what went wrong, lessons."""

    problem = models.ForeignKey(Problem, on_delete=models.CASCADE, related_name="reviews")
    held_at = models.DateTimeField()
    participants = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    went_well = models.TextField(blank=True)
    went_wrong = models.TextField(blank=True)
    lessons = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["problem", "held_at", "id"]

    def __str__(self) -> str:
        return f"review of {self.problem_id} @ {self.held_at:%Y-%m-%d}"


class FollowUpAction(models.Model):
    review = models.ForeignKey(ProblemReview, on_delete=models.CASCADE, related_name="actions")
    title = models.CharField(max_length=200)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    due_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["review", "id"]

    def __str__(self) -> str:
        return self.title
