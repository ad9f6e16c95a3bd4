"""The verbs of intake (issue 8): integrations and their tokens, alerts -> incidents.

Who acts: incidents, alert events and automatic resolutions are the system's
(``actor=None``); the incident's reporter is the integration's ``reporter`` or
its own system user. E-mail verbs are in :mod:`.mail_services`.

De-duplication: one open :class:`AlertGroup` per (integration, key) is a
partial unique index. A firing alert inserts the group with INSERT ... ON
CONFLICT DO NOTHING (INSERT OR IGNORE on SQLite) and then locks whichever open
group exists: if the row it locked has no incident yet, this transaction
created it and opens the incident; otherwise it updates the group. A
concurrent delivery of the same key waits on the index entry and then finds
the committed group, so two deliveries cannot open two incidents.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils.text import slugify

from servicedesk.accounts.models import Role, User
from servicedesk.core import clock
from servicedesk.core.digests import secret_digest
from servicedesk.core.errors import FieldError, PermissionDenied
from servicedesk.core.lookups import one
from servicedesk.incidents import services as incident_services
from servicedesk.incidents.events import ref
from servicedesk.incidents.models import OPEN_STATUSES, Incident, ResolutionCode, Source

from .intake import mapping
from .intake.payloads import FIRING, Alert, short_key
from .models import (
    AlertGroup,
    AlertStatus,
    IntakeRequest,
    IntakeResult,
    Integration,
    IntegrationKind,
    Mailbox,
    MappingRule,
    OnResolved,
)

TOKEN_PREFIX = "sdi_"  # noqa: S105 (a marker, not a secret)
# Fingerprints a group remembers as firing; beyond this only the count moves.
MAX_FIRING_IDENTITIES = 500
BODY_LIMIT = 256 * 1024


def _require_admin(actor: User | None) -> None:
    if actor is not None and not (actor.is_superuser or actor.role == Role.ADMIN):
        raise PermissionDenied("Only administrators manage integrations.")


# ---- integrations and tokens ----------------------------------------------------------


def _system_user(integration: Integration) -> User:
    """The integration's own account: inactive (no sign-in, no API token), staff so that it
    may leave notes from unknown e-mail senders on any incident."""
    base = slugify(integration.name)[:80] or "integration"
    user = User(
        username=f"integration.{base}.{integration.pk}",
        first_name=integration.name[:150],
        last_name="(integration)",
        role=Role.AGENT,
        is_active=False,
    )
    user.set_unusable_password()
    user.save()
    return user


@transaction.atomic
def do_provision_integration(*, integration: Integration, actor: User | None) -> str | None:
    """Give an integration its system user and, except for mailboxes, a first token.
    Returns the token (shown once) or None when none was issued."""
    _require_admin(actor)
    integration = Integration.objects.select_for_update().get(pk=integration.pk)
    if integration.system_user_id is None:
        integration.system_user = _system_user(integration)
        integration.save(update_fields=["system_user"])
    if integration.kind == IntegrationKind.EMAIL:
        Mailbox.objects.get_or_create(
            integration=integration, defaults={"address": settings.DEFAULT_FROM_EMAIL}
        )
        return None
    if integration.token_digest:
        return None
    return do_rotate_token(integration=integration, actor=actor)


@transaction.atomic
def do_create_integration(
    *, actor: User | None, kind: str, name: str, reporter: User | None = None,
    dedup_labels: list[str] | None = None, on_resolved: str = OnResolved.RESOLVE,
    repeat_event_minutes: int = 5, mailbox_address: str = "",
) -> tuple[Integration, str | None]:  # fmt: skip
    """Create an integration; returns it and its token (the only copy; None for e-mail)."""
    _require_admin(actor)
    name = name.strip()
    if not name:
        raise FieldError("name", "must not be empty")
    if kind not in IntegrationKind.values:
        raise FieldError("kind", f"must be one of: {', '.join(IntegrationKind.values)}")
    if on_resolved not in OnResolved.values:
        raise FieldError("on_resolved", f"must be one of: {', '.join(OnResolved.values)}")
    if Integration.objects.filter(name=name).exists():
        raise FieldError("name", "an integration with this name exists")
    integration = Integration.objects.create(
        name=name, kind=kind, reporter=reporter, dedup_labels=list(dedup_labels or []),
        on_resolved=on_resolved, repeat_event_minutes=repeat_event_minutes,
    )  # fmt: skip
    if kind == IntegrationKind.EMAIL:
        Mailbox.objects.create(
            integration=integration, address=mailbox_address or settings.DEFAULT_FROM_EMAIL
        )
    token = do_provision_integration(integration=integration, actor=actor)
    integration.refresh_from_db()
    return integration, token


@transaction.atomic
def do_rotate_token(*, integration: Integration, actor: User | None, raw: str = "") -> str:
    """Issue a new token; the old one stops working at once. ``raw`` sets a given
    token instead of a random one (the demo's documented tokens)."""
    _require_admin(actor)
    if integration.kind == IntegrationKind.EMAIL:
        raise FieldError("kind", "e-mail integrations receive mail, not HTTP requests")
    if raw and (not raw.startswith(TOKEN_PREFIX) or not 20 <= len(raw) <= 100):
        raise FieldError("token", f"must start with {TOKEN_PREFIX} and have 20-100 characters")
    raw = raw or TOKEN_PREFIX + secrets.token_urlsafe(32)
    Integration.objects.filter(pk=integration.pk).update(
        token_prefix=raw[:12], token_digest=secret_digest(raw)
    )
    return raw


def authenticate(raw: str) -> Integration | None:
    """The active integration a token belongs to, or None."""
    raw = raw.strip()
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 100:
        return None
    return one(
        Integration.objects.select_related("reporter", "system_user").filter(
            token_digest=secret_digest(raw), active=True
        )
    )


# ---- alerts -> incidents ------------------------------------------------------------


@dataclass
class Outcome:
    key: str
    action: str  # opened | updated | resolved | alert_resolved | not_open
    incident: int | None = None


def dedup_key(integration: Integration, alert: Alert) -> str:
    if integration.dedup_labels:
        return short_key(
            "|".join(f"{name}={alert.labels.get(name, '')}" for name in integration.dedup_labels)
        )
    return alert.key


GROUP_FIELDS = ["title", "labels", "source_url", "last_seen_at", "count", "firing",
                "alert_status", "resolved_at", "last_event_at", "incident"]  # fmt: skip


def _lock_open_groups(integration: Integration, keys: list[str]) -> dict[str, AlertGroup]:
    """Lock the open groups of ``keys``, in key order (one statement)."""
    rows = (
        AlertGroup.objects.select_for_update(of=("self",))
        .select_related("incident")
        .filter(integration=integration, key__in=keys, is_open=True)
        .order_by("key")
    )
    return {group.key: group for group in rows}


def _insert_groups(integration: Integration, keys: list[str], now: datetime) -> None:
    """INSERT ... ON CONFLICT DO NOTHING (INSERT OR IGNORE on SQLite), in key order: a key
    that has an open group keeps it; a concurrent insert of the same key makes this
    statement wait for that transaction, then do nothing."""
    AlertGroup.objects.bulk_create(
        [AlertGroup(integration=integration, key=key, first_seen_at=now, last_seen_at=now)
         for key in keys],
        ignore_conflicts=True,
    )  # fmt: skip


class _Rules:
    """The integration's mapping rules, read once per delivery and only when needed."""

    def __init__(self, integration: Integration) -> None:
        self.integration = integration
        self._rules: list[MappingRule] | None = None

    def get(self) -> list[MappingRule]:
        if self._rules is None:
            self._rules = list(
                self.integration.rules.select_related(
                    "service", "configuration_item", "technology", "category"
                )
            )
        return self._rules


def _open_incident(integration: Integration, rules: _Rules, key: str, alert: Alert) -> Incident:
    mapped = mapping.apply(rules.get(), alert, integration, key)
    reporter = integration.reporter or integration.system_user
    if reporter is None:
        raise FieldError("reporter", f"integration {integration} has no reporter; provision it")
    return incident_services.do_create_incident(
        actor=None, title=mapped.title, description=mapped.description[:100_000],
        reporter=reporter, contact_phone="", contact_email="", source=Source.MONITORING,
        service=mapped.service, configuration_item=mapped.configuration_item,
        technology=mapped.technology, category=mapped.category,
        affected_users=mapped.affected_users, severity=mapped.severity,
        severity_reason=(f"set by {integration.name}: {mapped.severity_rule}"[:500]
                         if mapped.severity is not None else ""),
        external_ref=f"{integration.kind}:{key}"[:100],
    )  # fmt: skip


def _received_event(
    integration: Integration, group: AlertGroup, incident: Incident, *, repeat: bool
) -> None:
    incident_services.append_event(
        incident, "alert_received", actor=None,
        payload={"integration": ref(integration), "key": group.key, "title": group.title,
                 "labels": group.labels, "count": group.count, "repeat": repeat,
                 "source_url": group.source_url},
    )  # fmt: skip


def _fire(integration: Integration, rules: _Rules, group: AlertGroup, alert: Alert,
          now: datetime) -> Outcome:  # fmt: skip
    group.title = alert.title[:200]
    group.labels = alert.labels
    group.source_url = alert.source_url[:500]
    group.last_seen_at = now
    group.count += 1
    if alert.identity not in group.firing and len(group.firing) < MAX_FIRING_IDENTITIES:
        group.firing = [*group.firing, alert.identity]
    was_resolved = group.alert_status == AlertStatus.RESOLVED
    group.alert_status, group.resolved_at = AlertStatus.FIRING, None

    if group.incident_id is None:
        # This transaction inserted the group: it opens the incident.
        incident = _open_incident(integration, rules, group.key, alert)
        group.incident, group.last_event_at = incident, now
        _received_event(integration, group, incident, repeat=False)
        return Outcome(group.key, "opened", incident.pk)

    assert group.incident is not None
    interval = timedelta(minutes=integration.repeat_event_minutes)
    if was_resolved or group.last_event_at is None or now - group.last_event_at >= interval:
        group.last_event_at = now
        _received_event(integration, group, group.incident, repeat=True)
    return Outcome(group.key, "updated", group.incident_id)


def _resolve(integration: Integration, group: AlertGroup, alert: Alert, now: datetime) -> Outcome:
    assert group.incident is not None
    group.firing = [identity for identity in group.firing if identity != alert.identity]
    group.last_seen_at = now
    if group.firing:
        # Other alerts under this key still fire.
        return Outcome(group.key, "updated", group.incident_id)
    group.alert_status, group.resolved_at = AlertStatus.RESOLVED, now
    incident_services.append_event(
        group.incident, "alert_resolved", actor=None,
        payload={"integration": ref(integration), "key": group.key, "count": group.count,
                 "action": integration.on_resolved},
    )  # fmt: skip
    if integration.on_resolved == OnResolved.RESOLVE and group.incident.status in OPEN_STATUSES:
        incident_services.do_resolve(
            incident=group.incident, actor=None, resolution_code=ResolutionCode.OTHER,
            resolution=f"The alert stopped firing ({integration.name}): {group.title or group.key}",
        )  # fmt: skip
        # Its "resolved" event closed the group (listeners.py).
        group.is_open = False
        return Outcome(group.key, "resolved", group.incident_id)
    return Outcome(group.key, "alert_resolved", group.incident_id)


def _ingest(integration: Integration, alerts: list[Alert]) -> list[Outcome]:
    now = clock.now()
    rules = _Rules(integration)
    keyed = sorted(((dedup_key(integration, a), a) for a in alerts), key=lambda pair: pair[0])
    firing_keys = sorted({key for key, alert in keyed if alert.status == FIRING})
    _insert_groups(integration, firing_keys, now)
    groups = _lock_open_groups(integration, sorted({key for key, _ in keyed}))
    touched: dict[int, AlertGroup] = {}
    before = {group.pk: _snapshot(group) for group in groups.values()}
    outcomes = []
    for key, alert in keyed:
        group = groups.get(key)
        if group is None or not group.is_open:
            if alert.status != FIRING:
                outcomes.append(Outcome(key, "not_open"))
                continue
            # The key's incident was resolved earlier in this delivery: a new group.
            _insert_groups(integration, [key], now)
            group = groups[key] = _lock_open_groups(integration, [key])[key]
            before[group.pk] = _snapshot(group)
        if alert.status == FIRING:
            outcomes.append(_fire(integration, rules, group, alert, now))
        else:
            outcomes.append(_resolve(integration, group, alert, now))
        touched[group.pk] = group
    _write_back(touched, before, now)
    return outcomes


def _write_back(
    touched: dict[int, AlertGroup], before: dict[int, dict[str, Any]], now: datetime
) -> None:
    """Write back what changed. A repeat changes only the count and the last-seen time:
    those groups share one UPDATE per count increment, the rest are saved one by one.
    (is_open is not ours to write: the listener closes groups with their incident.)"""
    repeats: dict[int, list[int]] = {}
    for pk, group in touched.items():
        after = _snapshot(group)
        changed = [name for name in GROUP_FIELDS if after[name] != before[pk][name]]
        if set(changed) <= {"count", "last_seen_at"} and group.last_seen_at == now:
            repeats.setdefault(group.count - before[pk]["count"], []).append(pk)
        elif changed:
            group.save(update_fields=changed)
    for increment, pks in repeats.items():
        AlertGroup.objects.filter(pk__in=pks).update(count=F("count") + increment, last_seen_at=now)


def _snapshot(group: AlertGroup) -> dict[str, Any]:
    values = {name: getattr(group, name) for name in GROUP_FIELDS if name != "incident"}
    values["incident"] = group.incident_id
    return values


@transaction.atomic
def do_ingest_alerts(*, integration: Integration, alerts: list[Alert]) -> list[Outcome]:
    """Apply a delivery's alerts: open, update or resolve incidents. All or nothing.

    Three statements take the locks, whatever the number of alerts: insert the
    missing groups of firing keys (sorted), lock every open group of the
    delivery's keys (sorted), then one UPDATE writes them back. Two deliveries
    that share keys take their locks in the same order and cannot deadlock.
    """
    return _ingest(integration, alerts)


# ---- the request log --------------------------------------------------------------------


def _body_text(body: bytes | str) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    # PostgreSQL text cannot hold NUL; the log keeps the rest.
    return text[:BODY_LIMIT].replace("\x00", "\ufffd")


def record_request(
    *, integration: Integration | None, kind: str, received_at: datetime, result: str,
    status_code: int, detail: str = "", body: bytes | str = b"", remote_addr: str | None = None,
    alerts: int = 0, outcomes: list[Outcome] | None = None,
) -> IntakeRequest:  # fmt: skip
    """Write the log row of one delivery (inside the caller's transaction, if any)."""
    outcomes = outcomes or []
    first = next((o.incident for o in outcomes if o.incident is not None), None)
    return IntakeRequest.objects.create(
        integration=integration, kind=kind, received_at=received_at, remote_addr=remote_addr,
        result=result, status_code=status_code, detail=detail[:10_000], alerts=alerts,
        outcomes=[asdict(o) for o in outcomes], incident_id=first, body=_body_text(body),
    )  # fmt: skip


@transaction.atomic
def do_receive_alerts(
    *, integration: Integration, alerts: list[Alert], body: bytes, received_at: datetime,
    remote_addr: str | None,
) -> IntakeRequest:  # fmt: skip
    """Ingest a delivery and log it in the same transaction."""
    outcomes = _ingest(integration, alerts)
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.action] = counts.get(outcome.action, 0) + 1
    return record_request(
        integration=integration, kind=integration.kind, received_at=received_at,
        result=IntakeResult.ACCEPTED, status_code=200, body=body, remote_addr=remote_addr,
        alerts=len(alerts), outcomes=outcomes,
        detail=", ".join(f"{n} {action}" for action, n in sorted(counts.items())),
    )  # fmt: skip


def outcome_out(outcome: dict[str, Any]) -> dict[str, Any]:
    """An outcome as the API shows it: the incident as a reference with its number."""
    from servicedesk.incidents.models import format_number

    pk = outcome.get("incident")
    return {
        "key": outcome["key"],
        "action": outcome["action"],
        "incident": {"id": pk, "name": format_number(pk)} if pk else None,
    }


@transaction.atomic
def do_set_active(*, integration: Integration, active: bool, actor: User | None) -> None:
    """Enable or disable an integration: a disabled one's token and mailbox stop working."""
    _require_admin(actor)
    Integration.objects.filter(pk=integration.pk).update(active=active)
