"""Error control: known errors (the KEDB), their timeline, the incidents they
caused, fix projects, and the statistics of the matching index."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

NUMBER_PREFIX = "KE-"
FIX_NUMBER_PREFIX = "FIX-"


class Status(models.TextChoices):
    OPEN = "open", _("open")
    FIX_IN_PROGRESS = "fix_in_progress", _("fix in progress")
    FIXED = "fixed", _("fixed")
    CLOSED = "closed", _("closed")
    ACCEPTED = "accepted", _("accepted without fix")


class Audience(models.TextChoices):
    """Who sees the workaround: unpublished workarounds are never matched."""

    UNPUBLISHED = "unpublished", _("not published")
    SUPPORT = "support", _("all support levels")
    PORTAL = "portal", _("support levels and end users (portal)")


class KnownError(models.Model):
    title = models.CharField(_("title"), max_length=200)
    symptoms = models.TextField(_("symptoms"))
    root_cause = models.TextField(_("root cause"))
    workaround = models.TextField(_("workaround"))
    permanent_fix = models.TextField(_("permanent fix"), blank=True)
    keywords = models.TextField(
        _("search keywords"), blank=True,
        help_text=_("Other words users use for these symptoms, in any language."),
    )  # fmt: skip
    problem = models.ForeignKey(
        "problems.Problem", verbose_name=_("problem"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="known_errors",
    )  # fmt: skip
    technology = models.ForeignKey(
        "catalog.Technology", verbose_name=_("technology"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="known_errors",
    )  # fmt: skip
    services = models.ManyToManyField(
        "catalog.Service", verbose_name=_("services"), blank=True, related_name="known_errors"
    )
    configuration_items = models.ManyToManyField(
        "catalog.ConfigurationItem", verbose_name=_("configuration items"), blank=True,
        related_name="known_errors",
    )  # fmt: skip
    priority = models.PositiveSmallIntegerField(_("priority"), default=3)
    status = models.CharField(_("status"), max_length=20, choices=Status, default=Status.OPEN)
    accepted_reason = models.TextField(_("why accepted without fix"), blank=True)
    audience = models.CharField(
        _("workaround published for"), max_length=12, choices=Audience,
        default=Audience.UNPUBLISHED,
    )  # fmt: skip
    workaround_published_at = models.DateTimeField(null=True, blank=True)

    # The matching index: stems of title, symptoms, keywords and error codes
    # while the known error is matchable (published, not closed), else empty.
    # Indexed in the side table knownerrors_search (PostgreSQL: tsvector + GIN;
    # SQLite: FTS5), kept by search.reindex (migration 0002).
    search_text = models.TextField(blank=True, default="", editable=False)
    search_length = models.PositiveIntegerField(default=0, editable=False)

    # Monitoring: the incident rate rose (re-prioritise), set by the daily job.
    rate_rising = models.BooleanField(_("incident rate rising"), default=False)
    rate_checked_at = models.DateTimeField(null=True, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created"))
    fixed_at = models.DateTimeField(_("fixed"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated"))
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("known error")
        verbose_name_plural = _("known errors")
        indexes = [models.Index(fields=["status", "-id"], name="knownerrors_status_id")]
        constraints = [
            models.CheckConstraint(
                condition=Q(priority__gte=1, priority__lte=5), name="knownerrors_priority_1_5"
            )
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def number(self) -> str:
        return f"{NUMBER_PREFIX}{self.pk:06d}" if self.pk else ""

    @property
    def is_published(self) -> bool:
        return self.audience != Audience.UNPUBLISHED

    @property
    def is_matchable(self) -> bool:
        return self.is_published and self.status != Status.CLOSED


class ErrorCode(models.Model):
    """An error code the known error shows (E-1042, 0x80070005), stored normalised."""

    known_error = models.ForeignKey(KnownError, on_delete=models.CASCADE, related_name="codes")
    code = models.CharField(max_length=64)
    normalised = models.CharField(max_length=64, db_index=True)

    class Meta:
        ordering = ["known_error", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["known_error", "normalised"], name="knownerrors_code_once"
            )
        ]

    def __str__(self) -> str:
        return self.code


class KnownErrorEvent(models.Model):
    """One immutable entry of a known error's timeline. Types: see ``events.py``."""

    known_error = models.ForeignKey(KnownError, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=40)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField()
    payload = models.JSONField(default=dict)

    class Meta:
        ordering = ["known_error", "id"]
        indexes = [
            models.Index(fields=["known_error", "id"], name="knownerrors_event_timeline"),
            models.Index(fields=["type", "at"], name="knownerrors_event_type_at"),
        ]

    def __str__(self) -> str:
        return f"{self.type} @ {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            raise ValueError("timeline events are immutable")
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise ValueError("timeline events are immutable")


class KnownErrorIncident(models.Model):
    """An incident caused by a known error (its workaround applied): Table 3's
    "incidents caused by known errors"."""

    known_error = models.ForeignKey(
        KnownError, on_delete=models.CASCADE, related_name="incident_links"
    )
    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.CASCADE, related_name="known_error_links"
    )
    applied_at = models.DateTimeField()
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved = models.BooleanField(default=False)
    # The match that found it (score and reasons), when it came from a search.
    match = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["known_error", "id"]
        indexes = [
            models.Index(fields=["known_error", "applied_at"], name="knownerrors_link_applied")
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["known_error", "incident"], name="knownerrors_link_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.incident_id} <- {self.known_error_id}"


class FixStatus(models.TextChoices):
    PROPOSED = "proposed", _("proposed")
    APPROVED = "approved", _("approved")
    IN_PROGRESS = "in_progress", _("in progress")
    IMPLEMENTED = "implemented", _("implemented")
    CANCELLED = "cancelled", _("cancelled")


class FixProject(models.Model):
    """A project that removes a known error for good (usually the 3rd line's)."""

    known_error = models.ForeignKey(
        KnownError, on_delete=models.PROTECT, related_name="fix_projects"
    )
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    priority = models.PositiveSmallIntegerField(_("priority"), default=3)
    status = models.CharField(
        _("status"), max_length=12, choices=FixStatus, default=FixStatus.PROPOSED
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="+",
    )  # fmt: skip
    group = models.ForeignKey(
        "accounts.SupportGroup", verbose_name=_("group"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="fix_projects",
    )  # fmt: skip
    planned_start = models.DateField(_("planned start"), null=True, blank=True)
    planned_end = models.DateField(_("planned end"), null=True, blank=True)
    actual_start = models.DateField(_("actual start"), null=True, blank=True)
    actual_end = models.DateField(_("actual end"), null=True, blank=True)
    cost_estimate = models.DecimalField(
        _("estimated cost"), max_digits=14, decimal_places=2, default=0
    )
    actual_cost = models.DecimalField(
        _("actual cost"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    change_ref = models.CharField(_("change reference"), max_length=100, blank=True)
    cancel_reason = models.TextField(_("why cancelled"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("fix project")
        verbose_name_plural = _("fix projects")
        indexes = [models.Index(fields=["priority", "id"], name="knownerrors_fix_priority")]
        constraints = [
            models.CheckConstraint(
                condition=Q(priority__gte=1, priority__lte=5), name="knownerrors_fix_priority_1_5"
            )
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def number(self) -> str:
        return f"{FIX_NUMBER_PREFIX}{self.pk:06d}" if self.pk else ""


class FixProjectEvent(models.Model):
    """One immutable entry of a fix project's timeline (``created``, ``updated``,
    ``status_changed``); published with subject "fix_project"."""

    fix_project = models.ForeignKey(FixProject, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=40)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField()
    payload = models.JSONField(default=dict)

    class Meta:
        ordering = ["fix_project", "id"]

    def __str__(self) -> str:
        return f"{self.type} @ {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            raise ValueError("timeline events are immutable")
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise ValueError("timeline events are immutable")

    @property
    def known_error(self) -> KnownError:
        return self.fix_project.known_error


class TermStatistic(models.Model):
    """In how many matchable known errors a stem occurs (its inverse document
    frequency weighs the OR of stems identically on both databases)."""

    stem = models.CharField(max_length=64, primary_key=True)
    documents = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.stem}: {self.documents}"


class IndexStatistic(models.Model):
    """Totals of the matching index: ``documents`` and ``tokens``."""

    name = models.CharField(max_length=32, primary_key=True)
    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}: {self.value}"
