"""Shared machinery: durable timers (due items), the outbox, idempotency keys.

Both due items and outbox messages are *leased rows*: a worker claims a row by
one conditional UPDATE that sets a lease and bumps a fencing token; whatever
it then writes is committed only while the token is still its own. See
``leases.py`` and docs/worker.md.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class RowState(models.TextChoices):
    PENDING = "pending", "pending"
    LEASED = "leased", "leased"
    DONE = "done", "done"
    FAILED = "failed", "failed"
    CANCELLED = "cancelled", "cancelled"


ACTIVE_STATES = (RowState.PENDING, RowState.LEASED)


class LeasedRow(models.Model):
    """A row a worker claims under a lease.

    ``due_at`` is the moment the row may next be claimed: its scheduled time
    while pending, its lease expiry while leased. One partial index over the
    active rows serves the claim query, so an idle poll costs the same with
    ten or ten million finished rows.
    """

    state = models.CharField(max_length=12, choices=RowState, default=RowState.PENDING)
    due_at = models.DateTimeField()
    lease_owner = models.CharField(max_length=200, blank=True, default="")
    token = models.BigIntegerField(default=0, help_text="Fencing token, bumped by every claim.")
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        indexes = [
            # In the claim's order (due_at, id): PostgreSQL walks it and stops after
            # the rows it takes, with no sort, skipping (and marking) the entries
            # of rows that left the active states since the last vacuum.
            models.Index(
                fields=["due_at", "id"],
                name="%(app_label)s_%(class)s_claim",
                condition=Q(state__in=["pending", "leased"]),
            ),
        ]


class DueItem(LeasedRow):
    """A durable timer: "perform ``kind`` for ``key`` at ``scheduled_at``".

    ``key`` is unique: a subject keeps one next-due row (e.g. one escalation
    row per incident), rescheduled in place.
    """

    key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=100)
    payload = models.JSONField(default=dict, blank=True)
    scheduled_at = models.DateTimeField(
        help_text="When the step is due (lateness counts from here)."
    )
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta(LeasedRow.Meta):
        verbose_name = "due item"

    def __str__(self) -> str:
        return f"{self.kind} {self.key} @ {self.scheduled_at:%Y-%m-%d %H:%M:%S} ({self.state})"


class DueRun(models.Model):
    """One committed perform of a due item: the audit log of the timers.

    Written in the same transaction as the handler's effects, so there is
    exactly one ``done`` run per performed step, whatever the workers did.
    """

    item = models.ForeignKey(DueItem, on_delete=models.CASCADE, related_name="runs")
    kind = models.CharField(max_length=100)
    token = models.BigIntegerField()
    worker = models.CharField(max_length=200)
    scheduled_at = models.DateTimeField()
    performed_at = models.DateTimeField()
    outcome = models.CharField(max_length=20)
    detail = models.TextField(blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["item", "performed_at"])]

    def __str__(self) -> str:
        return f"{self.kind} run {self.outcome} @ {self.performed_at:%Y-%m-%d %H:%M:%S}"


class OutboxMessage(LeasedRow):
    """A message to deliver, written in the transaction of the change that causes it.

    Delivered at least once; ``message_id`` is stable across retries so that
    receivers can de-duplicate.
    """

    message_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    channel = models.CharField(max_length=40)
    destination = models.CharField(max_length=500)
    event_type = models.CharField(max_length=80, blank=True, default="")
    subject_type = models.CharField(max_length=40, blank=True, default="")
    subject_id = models.BigIntegerField(null=True, blank=True)
    payload = models.JSONField(default=dict)
    meta = models.JSONField(default=dict, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta(LeasedRow.Meta):
        verbose_name = "outbox message"
        indexes = [
            *LeasedRow.Meta.indexes,
            models.Index(fields=["subject_type", "subject_id"], name="core_outbox_subject"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} -> {self.destination} ({self.state})"


class DeliveryAttempt(models.Model):
    """The delivery log: one row per attempt to deliver an outbox message."""

    message = models.ForeignKey(OutboxMessage, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    at = models.DateTimeField()
    ok = models.BooleanField()
    detail = models.CharField(max_length=500, blank=True, default="")
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["message", "number"]

    def __str__(self) -> str:
        return f"attempt {self.number}: {'ok' if self.ok else self.detail}"


class IdempotencyKey(models.Model):
    """The first response to a create carrying an ``Idempotency-Key`` header."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    key = models.CharField(max_length=255)
    scope = models.CharField(max_length=200)
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(default=0)
    response = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="core_idempotency_user_key")
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.key}"


class WorkerHeartbeat(models.Model):
    """Each running worker refreshes its row; health checks read them."""

    name = models.CharField(max_length=200, unique=True)
    hostname = models.CharField(max_length=200)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField()
    stats = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return self.name


class ConfigVersion(models.Model):
    """One row whose ``token`` changes with every write to a configuration table
    (database triggers, see ``confcache.py``): processes cache configuration
    under the token they read and reload when it differs."""

    token = models.CharField(max_length=64)

    class Meta:
        verbose_name = "configuration version"

    def __str__(self) -> str:
        return self.token
