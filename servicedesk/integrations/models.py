"""Integrations: outgoing webhooks, and intake from monitoring and e-mail.

Intake (issue 8): an :class:`Integration` is one sender (an Alertmanager, a
Zabbix server, a mailbox) with its own token and mapping rules. Alerts with
the same key while their incident is open form one :class:`AlertGroup`; a
partial unique index over the open groups makes "one open incident per key"
a database fact, so concurrent deliveries cannot open two. Every delivery is
an :class:`IntakeRequest` row, whatever its outcome.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


class WebhookEndpoint(models.Model):
    """A receiver of incident events as signed JSON (HMAC-SHA256)."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    url = models.URLField(_("URL"), max_length=500)
    secret = models.CharField(_("signing secret"), max_length=100, default=_new_secret)
    # Empty: every event type.
    event_types = models.JSONField(_("event types"), default=list, blank=True)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")

    def __str__(self) -> str:
        return self.name

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


# ---- intake --------------------------------------------------------------------------


class IntegrationKind(models.TextChoices):
    ALERTMANAGER = "alertmanager", "Prometheus Alertmanager"
    ZABBIX = "zabbix", "Zabbix"
    GRAFANA = "grafana", "Grafana"
    GENERIC = "generic", _("generic webhook")
    EMAIL = "email", _("e-mail")


class OnResolved(models.TextChoices):
    RESOLVE = "resolve", _("resolve the incident")
    EVENT = "event", _("add a timeline event only")


class Integration(models.Model):
    """One sender of alerts or mail, with its token and its mapping rules.

    Incidents are registered by the system (``actor=None``) and reported by
    ``reporter``, which defaults to the integration's own ``system_user``: an
    inactive account that cannot sign in and exists so that the incident card,
    comments from unknown e-mail senders and reports name the integration.
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=IntegrationKind)
    active = models.BooleanField(_("active"), default=True)
    # The token is shown once; only its SHA-256 digest is kept (like accounts.ApiToken).
    token_prefix = models.CharField(_("token prefix"), max_length=12, blank=True)
    token_digest = models.CharField(max_length=64, unique=True, null=True, blank=True)
    system_user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("system user"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="integration", editable=False,
    )  # fmt: skip
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("reporter"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="+",
        help_text=_("Who reports the incidents; empty: the integration's own system user."),
    )  # fmt: skip
    dedup_labels = models.JSONField(
        _("de-duplication labels"), default=list, blank=True,
        help_text=_("Label names whose values form the de-duplication key; empty: the source's "
                    "own key (Alertmanager/Grafana fingerprint, Zabbix event id, generic key)."),
    )  # fmt: skip
    on_resolved = models.CharField(
        _("when the alert resolves"), max_length=10, choices=OnResolved, default=OnResolved.RESOLVE
    )
    repeat_event_minutes = models.PositiveIntegerField(
        _("minutes between repeat events"), default=5,
        help_text=_("A repeated alert always updates the count and last-seen time; it adds a "
                    "timeline event at most this often (0: for every alert)."),
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("integration")
        verbose_name_plural = _("integrations")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        labels = self.dedup_labels
        if not isinstance(labels, list) or not all(isinstance(v, str) and v for v in labels):
            raise ValidationError({"dedup_labels": _("a list of label names")})


class MappingRule(models.Model):
    """Labels/tags -> incident fields. Every matching rule applies, in position
    order; for each field the first rule that sets it wins; ``stop`` ends the list."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="rules")
    position = models.PositiveIntegerField(_("position"), default=0)
    name = models.CharField(_("name"), max_length=100, blank=True)
    match = models.JSONField(
        _("match"), default=dict, blank=True,
        help_text=_('{"label": "regular expression"}; every label must match in full. '
                    "Empty: every alert."),
    )  # fmt: skip
    service = models.ForeignKey(
        "catalog.Service", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    configuration_item = models.ForeignKey(
        "catalog.ConfigurationItem", null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )  # fmt: skip
    technology = models.ForeignKey(
        "catalog.Technology", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    category = models.ForeignKey(
        "catalog.Category", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    service_label = models.CharField(
        _("service from label"), max_length=100, blank=True,
        help_text=_("A label whose value is the name of a service."),
    )  # fmt: skip
    ci_label = models.CharField(
        _("CI from label"), max_length=100, blank=True,
        help_text=_("A label whose value is a configuration item's name (a host:port value "
                    "also matches the host)."),
    )  # fmt: skip
    severity = models.PositiveSmallIntegerField(_("severity"), null=True, blank=True)
    affected_users = models.PositiveIntegerField(_("users unable to work"), null=True, blank=True)
    title_template = models.CharField(_("title template"), max_length=500, blank=True)
    description_template = models.TextField(_("description template"), blank=True)
    stop = models.BooleanField(_("stop after this rule"), default=False)

    class Meta:
        ordering = ["integration", "position", "id"]
        verbose_name = _("mapping rule")
        verbose_name_plural = _("mapping rules")

    def __str__(self) -> str:
        return self.name or f"rule {self.position}"

    def clean(self) -> None:
        from servicedesk.incidents.severity import valid_severities

        if self.severity is not None and self.severity not in valid_severities():
            raise ValidationError({"severity": _("not a severity of the band table")})
        if not isinstance(self.match, dict):
            raise ValidationError({"match": _("an object of label: regular expression")})
        for label, pattern in self.match.items():
            if not isinstance(pattern, str):
                raise ValidationError({"match": _("%(label)s: not a string") % {"label": label}})
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValidationError({"match": f"{label}: {exc}"}) from exc


class Mailbox(models.Model):
    """The mail side of an e-mail integration: our address, and IMAP polling (optional;
    mail may also arrive through ``servicedesk intake email`` from an MTA)."""

    class Security(models.TextChoices):
        SSL = "ssl", "SSL/TLS"
        STARTTLS = "starttls", "STARTTLS"
        NONE = "none", _("none (loopback only)")

    integration = models.OneToOneField(
        Integration, on_delete=models.CASCADE, related_name="mailbox"
    )
    address = models.EmailField(
        _("our address"), help_text=_("Mail from this address is ours: ignored (loops).")
    )
    imap_host = models.CharField(_("IMAP host"), max_length=200, blank=True)
    imap_port = models.PositiveIntegerField(_("IMAP port"), default=993)
    imap_security = models.CharField(
        _("IMAP security"), max_length=10, choices=Security, default=Security.SSL
    )
    imap_username = models.CharField(_("IMAP user"), max_length=200, blank=True)
    imap_password = models.CharField(_("IMAP password"), max_length=200, blank=True)
    imap_password_env = models.CharField(
        _("IMAP password variable"), max_length=100, blank=True,
        help_text=_("Read the password from this environment variable instead."),
    )  # fmt: skip
    imap_folder = models.CharField(_("IMAP folder"), max_length=200, default="INBOX")
    # Progress: messages up to last_uid (within uid_validity) are done.
    uid_validity = models.BigIntegerField(null=True, blank=True, editable=False)
    last_uid = models.BigIntegerField(default=0, editable=False)
    last_polled_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Held while a poll runs, so two workers never poll one mailbox at once.
    poll_lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True, editable=False)

    class Meta:
        verbose_name = _("mailbox")
        verbose_name_plural = _("mailboxes")

    def __str__(self) -> str:
        return self.address

    @property
    def polls(self) -> bool:
        return bool(self.imap_host)


class AlertStatus(models.TextChoices):
    FIRING = "firing", _("firing")
    RESOLVED = "resolved", _("resolved")


class AlertGroup(models.Model):
    """Alerts with one key while their incident is open: the unit of de-duplication.

    ``is_open`` follows the incident: it is cleared when the incident is
    resolved, cancelled or closed (listeners.py). At most one open group per
    (integration, key): the partial unique index below.
    """

    integration = models.ForeignKey(
        Integration, on_delete=models.PROTECT, related_name="alert_groups"
    )
    key = models.CharField(_("key"), max_length=200)
    is_open = models.BooleanField(_("open"), default=True)
    # Set in the transaction that opens the group; never null once committed.
    incident = models.ForeignKey(
        "incidents.Incident", null=True, on_delete=models.CASCADE, related_name="alert_groups"
    )
    alert_status = models.CharField(max_length=10, choices=AlertStatus, default=AlertStatus.FIRING)
    # Identities (fingerprints) of the alerts of this key now firing: the key's
    # alert is resolved when the last one resolves.
    firing = models.JSONField(default=list)
    count = models.PositiveIntegerField(_("alerts received"), default=0)
    title = models.CharField(_("title"), max_length=200, blank=True)
    labels = models.JSONField(_("labels"), default=dict)
    source_url = models.CharField(max_length=500, blank=True)
    first_seen_at = models.DateTimeField(_("first seen"))
    last_seen_at = models.DateTimeField(_("last seen"))
    last_event_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(_("alert resolved"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    class Meta:
        verbose_name = _("alert group")
        verbose_name_plural = _("alert groups")
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "key"], condition=Q(is_open=True),
                name="integrations_one_open_group_per_key",
            )
        ]  # fmt: skip
        indexes = [models.Index(fields=["incident"], name="integrations_group_incident")]

    def __str__(self) -> str:
        return f"{self.integration}: {self.key}"


class IntakeResult(models.TextChoices):
    ACCEPTED = "accepted", _("accepted")
    IGNORED = "ignored", _("ignored")
    REJECTED = "rejected", _("rejected (malformed)")
    UNAUTHORISED = "unauthorised", _("unauthorised")
    FAILED = "failed", _("failed")


class IntakeRequest(models.Model):
    """One delivery (HTTP request, piped or polled message) and what became of it."""

    integration = models.ForeignKey(
        Integration, null=True, blank=True, on_delete=models.SET_NULL, related_name="requests"
    )
    kind = models.CharField(max_length=20, choices=IntegrationKind)
    received_at = models.DateTimeField(_("received"), db_index=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    result = models.CharField(_("result"), max_length=20, choices=IntakeResult)
    status_code = models.PositiveSmallIntegerField(_("HTTP status"), default=200)
    detail = models.TextField(_("detail"), blank=True)
    alerts = models.PositiveIntegerField(_("alerts"), default=0)
    # [{"key", "action": opened|updated|resolved|unknown|..., "incident"}]
    outcomes = models.JSONField(default=list, blank=True)
    incident = models.ForeignKey(
        "incidents.Incident", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text=_("The (first) incident the request opened or updated."),
    )  # fmt: skip
    body = models.TextField(_("body"), blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("intake request")
        verbose_name_plural = _("intake requests")
        indexes = [models.Index(fields=["integration", "-id"], name="integrations_request_log")]

    def __str__(self) -> str:
        return f"{self.kind} {self.result} @ {self.received_at:%Y-%m-%d %H:%M:%S}"


class InboundEmail(models.Model):
    """A message a mailbox received: for threading (Message-ID) and the audit trail."""

    class Action(models.TextChoices):
        CREATED = "created", _("opened an incident")
        COMMENTED = "commented", _("added a comment")
        IGNORED = "ignored", _("ignored")

    integration = models.ForeignKey(Integration, on_delete=models.PROTECT, related_name="emails")
    request = models.OneToOneField(
        IntakeRequest, null=True, blank=True, on_delete=models.SET_NULL, related_name="email"
    )
    message_id = models.CharField(max_length=250, blank=True)
    subject = models.CharField(max_length=500, blank=True)
    from_address = models.CharField(max_length=254, blank=True)
    received_at = models.DateTimeField()
    action = models.CharField(max_length=20, choices=Action)
    reason = models.CharField(max_length=200, blank=True)
    incident = models.ForeignKey(
        "incidents.Incident", null=True, blank=True, on_delete=models.CASCADE,
        related_name="inbound_emails",
    )  # fmt: skip
    comment = models.ForeignKey(
        "incidents.Comment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-id"]
        verbose_name = _("inbound e-mail")
        verbose_name_plural = _("inbound e-mails")
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "message_id"], condition=~Q(message_id=""),
                name="integrations_email_once",
            )
        ]  # fmt: skip
        indexes = [models.Index(fields=["message_id"], name="integrations_email_msgid")]

    def __str__(self) -> str:
        return f"{self.from_address}: {self.subject}"


def attachment_root() -> Path:
    return Path(settings.DATA_DIR) / "attachments"


class Attachment(models.Model):
    """A file that came with an e-mail, kept under DATA_DIR/attachments by content hash."""

    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.CASCADE, related_name="intake_attachments"
    )
    email = models.ForeignKey(
        InboundEmail, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments"
    )
    filename = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size"))
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["incident", "id"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.filename

    @property
    def path(self) -> Path:
        return attachment_root() / self.sha256[:2] / self.sha256
