"""The verbs of incident management. Each runs in one transaction, locks the
incident row, checks the actor's permission and the transition table, changes
the card, appends one timeline event and publishes it to listeners (which
schedule timers and queue messages in the same transaction).

``actor`` is the person acting, or None for the system (timers, imports).
``expected_version`` is the version an If-Match header named: a stale one
raises PreconditionFailed and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any, cast

from django.conf import settings
from django.db import connections, router, transaction
from django.db.models import Field

from servicedesk.accounts import permissions
from servicedesk.accounts.models import Role, SupportGroup, User
from servicedesk.accounts.services import find_group, first_line_group, manager_chain
from servicedesk.catalog.models import (
    Category,
    ConfigurationItem,
    Partner,
    Service,
    Technology,
    UserGroup,
)
from servicedesk.core import clock, confcache, locking
from servicedesk.core import events as bus
from servicedesk.core.errors import (
    Conflict,
    FieldError,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
)
from servicedesk.core.lookups import resolve
from servicedesk.core.writes import insert, update

from . import events, transitions
from .events import ref
from .models import (
    AssignmentSpan,
    Comment,
    EscalationKind,
    EscalationReason,
    Incident,
    IncidentEvent,
    PendingReason,
    ResolutionCode,
    Source,
    Status,
    Task,
)
from .severity import priority_for, severity_for, valid_severities

# Fields a PATCH may change, and the catalogue model behind each reference.
EDITABLE_REFERENCES: dict[str, type] = {
    "user_group": UserGroup,
    "service": Service,
    "configuration_item": ConfigurationItem,
    "technology": Technology,
    "category": Category,
}
# Card fields that cannot be emptied with null (references and dates can).
NOT_NULL = frozenset(
    {"title", "description", "contact_phone", "contact_email", "affected_users", "business_impact",
     "impact", "urgency"}
)  # fmt: skip
EDITABLE_VALUES = (
    "title", "description", "contact_phone", "contact_email", "affected_users",
    "business_impact", "impact", "urgency", "expected_resolution_at",
)  # fmt: skip


# ---- helpers -------------------------------------------------------------------------


# What _lock reads with the incident; a caller that hands services an incident it
# holds (``holding``) reads it with these too.
LOCK_RELATED = ("owner_group", "assigned_group", "assignee", "coordinator", "reporter")
_held: ContextVar[Incident | None] = ContextVar("incident_held", default=None)


@contextmanager
def holding(incident: Incident) -> Iterator[None]:
    """Services called inside act on ``incident`` as it is, without reading it
    again: the caller has locked it in this transaction (``SELECT ... FOR
    UPDATE``, with ``LOCK_RELATED``), as the escalation worker does for a chunk
    of incidents in one statement. The services change that instance."""
    token = _held.set(incident)
    try:
        yield
    finally:
        _held.reset(token)


def _lock(incident: Incident | int, expected_version: int | None = None) -> Incident:
    """Re-read the incident under a row lock (PostgreSQL) / the write lock (SQLite)."""
    pk = incident.pk if isinstance(incident, Incident) else incident
    held = _held.get()
    locked = (
        held
        if held is not None and held.pk == pk
        else locking.lock_one(Incident.objects.all(), pk, LOCK_RELATED)
    )
    if locked is None:
        raise NotFound(f"Incident {pk} does not exist.")
    if expected_version is not None and locked.version != expected_version:
        raise PreconditionFailed(
            "The incident was changed by someone else; reload it and try again.",
            current_version=locked.version,
        )
    return locked


def _save(incident: Incident, *fields: str) -> None:
    incident.version += 1
    incident.updated_at = clock.now()
    update(incident, *fields, "version", "updated_at")


def append_event(
    incident: Incident, event_type: str, *, actor: User | None, payload: dict[str, Any]
) -> IncidentEvent:
    """Append an event to the timeline and publish it (inside the caller's transaction).

    Public for capabilities built on the foundation (escalation, problems,
    intake) that record their own event types.
    """
    event = insert(
        IncidentEvent(
            incident=incident,
            type=event_type,
            actor=actor,
            at=clock.now(),
            payload=events.validate(event_type, payload),
        )
    )
    bus.publish("incident", event)
    return event


def _open_span(incident: Incident, group: SupportGroup | None) -> None:
    if group is not None:
        insert(
            AssignmentSpan(
                incident=incident, group=group, support_level=group.level, started_at=clock.now()
            )
        )


def _close_span(incident: Incident, reason: str) -> None:
    # ``filter(...).update(...)`` builds and compiles the statement on every call
    # (a twentieth of an escalation step's CPU); it never changes.
    meta, conn = AssignmentSpan._meta, connections[router.db_for_write(AssignmentSpan)]
    quote = conn.ops.quote_name
    ended, reason_column, of = (quote(str(cast("Field[Any, Any]", meta.get_field(f)).column))
                                for f in ("ended_at", "end_reason", "incident"))  # fmt: skip
    sql = (
        f"UPDATE {quote(meta.db_table)} SET {ended} = %s, {reason_column} = %s "  # noqa: S608
        f"WHERE {of} = %s AND {ended} IS NULL"
    )
    now = meta.get_field("ended_at").get_db_prep_value(clock.now(), conn)
    with conn.cursor() as cursor:
        cursor.execute(sql, [now, reason, incident.pk])


def _require_work(actor: User | None, incident: Incident) -> None:
    if actor is not None:
        permissions.require(
            permissions.can_work_incident(actor, incident),
            "You may not work on this incident: it belongs to another group.",
        )


def _require_staff(actor: User | None, what: str) -> None:
    if actor is not None and not (actor.is_support_staff or actor.is_superuser):
        raise PermissionDenied(f"Only support staff may {what}.")


def _check_severity(value: int) -> None:
    if value not in valid_severities():
        raise FieldError("severity", f"must be one of {valid_severities()}")


def _choice(value: str, choices: Any, field: str) -> str:
    if value not in choices.values:
        raise FieldError(field, f"must be one of: {', '.join(choices.values)}")
    return value


def _serialise(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "pk"):
        return ref(value)
    return value


# ---- registration ------------------------------------------------------------------


@transaction.atomic
@confcache.scope()
def do_create_incident(
    *,
    actor: User | None,
    title: str,
    description: str = "",
    reporter: User | None = None,
    contact_phone: str | None = None,
    contact_email: str | None = None,
    user_group: UserGroup | None = None,
    service: Service | None = None,
    configuration_item: ConfigurationItem | None = None,
    technology: Technology | None = None,
    category: Category | None = None,
    affected_users: int | None = None,
    business_impact: str = "",
    impact: int = 2,
    urgency: int = 2,
    severity: int | None = None,
    severity_reason: str = "",
    source: str = Source.API,
    external_ref: str = "",
    expected_resolution_at: datetime | None = None,
    assigned_group: SupportGroup | None = None,
    assignee: User | None = None,
) -> Incident:
    """Register an incident. The 1st line (service desk) owns it; it starts at the
    1st line unless a group is given. Severity comes from the blocked users
    (monitoring reports block none yet: severity 4) unless set with a reason."""
    if not title.strip():
        raise FieldError("title", "must not be empty")
    is_staff = actor is None or actor.is_support_staff or actor.is_superuser
    if reporter is None:
        if actor is None:
            raise FieldError("reporter", "an incident needs a reporter")
        reporter = actor
    if not is_staff:
        # End users report for themselves, through the portal, and classify nothing.
        if reporter != actor or assigned_group or assignee or severity is not None:
            raise PermissionDenied("End users may only report incidents for themselves.")
        source = Source.PORTAL
    if severity is not None:
        _check_severity(severity)
        if not severity_reason.strip():
            raise FieldError(
                "severity_reason", "say why the severity differs from the blocked users"
            )
    if (
        assignee is not None
        and assigned_group is not None
        and not assigned_group.members.filter(pk=assignee.pk).exists()
    ):
        raise FieldError("assignee", f"is not a member of {assigned_group}")
    _choice(source, Source, "source")

    if configuration_item is not None:
        service = service or configuration_item.service
        technology = technology or configuration_item.technology
    if service is not None and technology is None:
        technology = service.technology
    if affected_users is None:
        affected_users = 0 if source == Source.MONITORING else 1

    owner = first_line_group()
    group = assigned_group or owner
    now = clock.now()
    incident = insert(Incident(
        title=title.strip(),
        description=description,
        source=source,
        external_ref=external_ref,
        reporter=reporter,
        contact_phone=reporter.phone if contact_phone is None else contact_phone,
        contact_email=reporter.email if contact_email is None else contact_email,
        user_group=user_group or reporter.user_group,
        service=service,
        configuration_item=configuration_item,
        technology=technology,
        category=category,
        affected_users=affected_users,
        business_impact=business_impact,
        impact=impact,
        urgency=urgency,
        severity=severity if severity is not None else severity_for(affected_users),
        severity_reason=severity_reason.strip() if severity is not None else "",
        priority=priority_for(impact, urgency),
        expected_resolution_at=expected_resolution_at,
        owner_group=owner,
        assigned_group=group,
        assignee=assignee,
        support_level=group.level,
        status=Status.ASSIGNED if assignee else Status.NEW,
        opened_at=now,
        updated_at=now,
    ))  # fmt: skip
    _open_span(incident, group)
    append_event(
        incident, "created", actor=actor,
        payload={
            "status": incident.status, "severity": incident.severity, "priority": incident.priority,
            "support_level": incident.support_level, "source": incident.source,
            "affected_users": incident.affected_users, "owner_group": ref(owner),
            "assigned_group": ref(group), "assignee": ref(assignee),
        },
    )  # fmt: skip
    return incident


@transaction.atomic
@confcache.scope()
def do_update_incident(
    *, incident: Incident | int, actor: User | None, changes: dict[str, Any],
    expected_version: int | None = None,
) -> Incident:  # fmt: skip
    """Change card fields. ``changes`` maps field names to new values (references
    by id). ``severity`` with ``severity_reason`` overrides the band table;
    ``severity: None`` returns to the computed severity."""
    incident = _lock(incident, expected_version)
    _require_work(actor, incident)
    transitions.check_open(incident.status, "updated")
    unknown = (
        set(changes)
        - set(EDITABLE_VALUES)
        - set(EDITABLE_REFERENCES)
        - {"severity", "severity_reason"}
    )
    if unknown:
        raise FieldError(sorted(unknown)[0], "this field cannot be changed here")

    for field, value in changes.items():
        if value is None and field in NOT_NULL:
            raise FieldError(field, "may not be null")
    diff: dict[str, dict[str, Any]] = {}
    for field, value in changes.items():
        if field in EDITABLE_REFERENCES:
            value = resolve(EDITABLE_REFERENCES[field], value, field)
            old = getattr(incident, field)
        elif field in EDITABLE_VALUES:
            old = getattr(incident, field)
            if field == "title":
                value = (value or "").strip()
                if not value:
                    raise FieldError("title", "must not be empty")
        else:
            continue
        if old != value:
            setattr(incident, field, value)
            diff[field] = {"from": _serialise(old), "to": _serialise(value)}

    if "impact" in diff or "urgency" in diff:
        new_priority = priority_for(incident.impact, incident.urgency)
        if new_priority != incident.priority:
            diff["priority"] = {"from": incident.priority, "to": new_priority}
            incident.priority = new_priority

    old_severity = incident.severity
    manual = False
    if "severity" in changes:
        requested = changes["severity"]
        if requested is None:
            incident.severity_reason = ""
            incident.severity = severity_for(incident.affected_users)
        else:
            _check_severity(requested)
            reason = (changes.get("severity_reason") or "").strip()
            if not reason:
                raise FieldError(
                    "severity_reason", "say why the severity differs from the blocked users"
                )
            incident.severity, incident.severity_reason, manual = requested, reason, True
    elif "affected_users" in diff and not incident.severity_reason:
        incident.severity = severity_for(incident.affected_users)

    severity_changed = incident.severity != old_severity
    if not diff and not severity_changed and not manual:
        return incident
    _save(
        incident, *[f for f in diff if f != "priority"], "priority", "severity", "severity_reason"
    )
    if diff:
        append_event(incident, "updated", actor=actor, payload={"changes": diff})
    if severity_changed:
        append_event(
            incident, "severity_changed", actor=actor,
            payload={"from_severity": old_severity, "to_severity": incident.severity,
                     "affected_users": incident.affected_users,
                     "reason": incident.severity_reason, "manual": manual},
        )  # fmt: skip
    return incident


# ---- working the incident -------------------------------------------------------------


def _move_to_group(incident: Incident, group: SupportGroup, span_end: str) -> None:
    if incident.assigned_group_id != group.pk:
        _close_span(incident, span_end)
        _open_span(incident, group)
    incident.assigned_group = group
    incident.support_level = group.level


@transaction.atomic
def do_assign(
    *, incident: Incident | int, actor: User | None, group: SupportGroup | None = None,
    assignee: User | None = None, expected_version: int | None = None,
) -> Incident:  # fmt: skip
    """Assign to a group and/or a person. A new holder has to accept: the status
    becomes ``assigned`` (the assignee keeps it ``in_progress`` when it is the
    person already working it)."""
    incident = _lock(incident, expected_version)
    _require_work(actor, incident)
    transitions.check_open(incident.status, Status.ASSIGNED)
    if group is None and assignee is None:
        raise FieldError("group", "give a group, an assignee or both")
    target_group = group or incident.assigned_group
    if assignee is not None:
        if not (assignee.is_support_staff or assignee.is_superuser) or not assignee.is_active:
            raise FieldError("assignee", "must be an active member of support staff")
        if target_group is not None and not target_group.members.filter(pk=assignee.pk).exists():
            raise FieldError("assignee", f"is not a member of {target_group}")
    if target_group is not None and not target_group.is_active:
        raise FieldError("group", "this group is inactive")

    before = (incident.assigned_group, incident.assignee, incident.status)
    if target_group is not None:
        _move_to_group(incident, target_group, AssignmentSpan.EndReason.REASSIGNED)
    group_changed = before[0] != incident.assigned_group
    incident.assignee = (
        assignee if assignee is not None else (None if group_changed else incident.assignee)
    )
    if before[0] == incident.assigned_group and before[1] == incident.assignee:
        return incident
    incident.status = Status.ASSIGNED
    incident.pending_reason = ""
    _save(incident, "assigned_group", "assignee", "support_level", "status", "pending_reason")
    append_event(
        incident, "assigned", actor=actor,
        payload={"from_group": ref(before[0]), "to_group": ref(incident.assigned_group),
                 "from_assignee": ref(before[1]), "to_assignee": ref(incident.assignee),
                 "support_level": incident.support_level,
                 "status_from": before[2], "status_to": incident.status},
    )  # fmt: skip
    return incident


@transaction.atomic
def do_accept(
    *, incident: Incident | int, actor: User, expected_version: int | None = None
) -> Incident:
    """The acting agent takes the incident and starts (or resumes) work on it."""
    incident = _lock(incident, expected_version)
    _require_work(actor, incident)
    transitions.check(incident.status, Status.IN_PROGRESS)
    group = incident.assigned_group
    if (
        group is not None
        and actor.role not in (Role.ADMIN, Role.MANAGER)
        and not actor.is_superuser
        and not group.members.filter(pk=actor.pk).exists()
    ):
        raise PermissionDenied(f"Only members of {group} may accept this incident.")
    status_from, previous = incident.status, incident.assignee
    incident.status, incident.pending_reason, incident.assignee = Status.IN_PROGRESS, "", actor
    if incident.responded_at is None:
        incident.responded_at = clock.now()
    _save(incident, "status", "pending_reason", "assignee", "responded_at")
    if previous != actor:
        append_event(
            incident, "assigned", actor=actor,
            payload={"from_group": ref(group), "to_group": ref(group), "from_assignee": ref(previous),
                     "to_assignee": ref(actor), "support_level": incident.support_level,
                     "status_from": status_from, "status_to": incident.status},
        )  # fmt: skip
    else:
        append_event(
            incident,
            "status_changed",
            actor=actor,
            payload={"status_from": status_from, "status_to": incident.status},
        )
    return incident


@transaction.atomic
def do_set_pending(
    *, incident: Incident | int, actor: User | None, reason: str, comment: str = "",
    expected_version: int | None = None,
) -> Incident:  # fmt: skip
    """Wait for the user, a vendor or a problem's fix (SLA clocks pause on the first two)."""
    _choice(reason, PendingReason, "reason")
    incident = _lock(incident, expected_version)
    _require_work(actor, incident)
    if incident.status == Status.PENDING and incident.pending_reason == reason:
        return incident
    if incident.status != Status.PENDING:
        transitions.check(incident.status, Status.PENDING)
    status_from = incident.status
    incident.status, incident.pending_reason = Status.PENDING, reason
    _save(incident, "status", "pending_reason")
    append_event(
        incident, "status_changed", actor=actor,
        payload={"status_from": status_from, "status_to": Status.PENDING,
                 "pending_reason": reason, "comment": comment},
    )  # fmt: skip
    return incident


@transaction.atomic
def do_escalate(
    *, incident: Incident | int, actor: User | None, reason: str, comment: str = "",
    kind: str = EscalationKind.FUNCTIONAL, manager: User | None = None,
    to_level: int | None = None, automatic: bool = False, expected_version: int | None = None,
) -> Incident:  # fmt: skip
    """Escalate functionally (to the next support level's group for the incident's
    technology) or hierarchically (to the next manager of the chain, who becomes
    the coordinator). Manual and timer escalations both come through here."""
    _choice(reason, EscalationReason, "reason")
    _choice(kind, EscalationKind, "kind")
    incident = _lock(incident, expected_version)
    _require_work(actor, incident)
    transitions.check_open(incident.status, "escalated")
    status_from = incident.status
    payload: dict[str, Any] = {"kind": kind, "reason": reason, "comment": comment,
                               "automatic": automatic, "status_from": status_from}  # fmt: skip
    if kind == EscalationKind.FUNCTIONAL:
        level = to_level if to_level is not None else incident.support_level + 1
        if level > 3:
            raise Conflict("The incident is already at the 3rd line, the last support level.")
        if level <= incident.support_level:
            raise FieldError("to_level", "must be above the current support level")
        group = find_group(level=level, technology_id=incident.technology_id)
        if group is None:
            raise Conflict(
                f"No active support group at level {level} for "
                f"{incident.technology or 'incidents without a technology'}."
            )
        from_group, from_level = incident.assigned_group, incident.support_level
        _move_to_group(incident, group, AssignmentSpan.EndReason.ESCALATED)
        incident.assignee, incident.status, incident.pending_reason = None, Status.ASSIGNED, ""
        _save(incident, "assigned_group", "support_level", "assignee", "status", "pending_reason")
        payload.update(
            from_level=from_level, to_level=level, from_group=ref(from_group), to_group=ref(group)
        )
    else:
        chain = manager_chain(
            technology_id=incident.technology_id, fallback_group=incident.assigned_group
        )
        if manager is None:
            position = chain.index(incident.coordinator) + 1 if incident.coordinator in chain else 0
            if position >= len(chain):
                raise Conflict("There is no further manager in this incident's escalation chain.")
            manager = chain[position]
        elif manager.role not in (Role.MANAGER, Role.ADMIN) or not manager.is_active:
            raise FieldError("manager", "must be an active manager")
        incident.coordinator = manager
        _save(incident, "coordinator")
        payload.update(
            manager=ref(manager),
            chain_position=(chain.index(manager) + 1) if manager in chain else None,
        )
    payload["status_to"] = incident.status
    append_event(incident, "escalated", actor=actor, payload=payload)
    return incident


@transaction.atomic
def do_de_escalate(
    *, incident: Incident | int, actor: User | None, reason: str = "",
    expected_version: int | None = None,
) -> Incident:  # fmt: skip
    """Hand the incident back one support level (to the service desk at level 1)."""
    incident = _lock(incident, expected_version)
    _require_work(actor, incident)
    transitions.check_open(incident.status, "de_escalated")
    if incident.support_level <= 1:
        raise Conflict("The incident is already at the 1st line.")
    level = incident.support_level - 1
    group = (
        incident.owner_group
        if level == 1
        else find_group(level=level, technology_id=incident.technology_id)
    )
    if group is None:
        raise Conflict(
            f"No active support group at level {level} for {incident.technology or 'this incident'}."
        )
    from_group, from_level, status_from = (
        incident.assigned_group,
        incident.support_level,
        incident.status,
    )
    _move_to_group(incident, group, AssignmentSpan.EndReason.DE_ESCALATED)
    incident.assignee, incident.status, incident.pending_reason = None, Status.ASSIGNED, ""
    _save(incident, "assigned_group", "support_level", "assignee", "status", "pending_reason")
    append_event(
        incident, "de_escalated", actor=actor,
        payload={"from_level": from_level, "to_level": level, "from_group": ref(from_group),
                 "to_group": ref(group), "reason": reason, "status_from": status_from,
                 "status_to": incident.status},
    )  # fmt: skip
    return incident


@transaction.atomic
def do_resolve(
    *, incident: Incident | int, actor: User | None, resolution_code: str, resolution: str,
    expected_version: int | None = None,
) -> Incident:  # fmt: skip
    """Service restored. Any open state may resolve: first-contact resolution is the goal."""
    _choice(resolution_code, ResolutionCode, "resolution_code")
    if not resolution.strip():
        raise FieldError("resolution", "describe how service was restored")
    incident = _lock(incident, expected_version)
    _require_work(actor, incident)
    transitions.check(incident.status, Status.RESOLVED)
    now = clock.now()
    status_from = incident.status
    if incident.assignee is None and actor is not None and actor.is_support_staff:
        incident.assignee = actor
    incident.status, incident.pending_reason = Status.RESOLVED, ""
    incident.resolution_code, incident.resolution = resolution_code, resolution.strip()
    incident.resolved_at = now
    incident.responded_at = incident.responded_at or now
    _close_span(incident, AssignmentSpan.EndReason.RESOLVED)
    _save(incident, "status", "pending_reason", "resolution_code", "resolution", "resolved_at",
          "responded_at", "assignee")  # fmt: skip
    append_event(
        incident, "resolved", actor=actor,
        payload={"status_from": status_from, "resolution_code": resolution_code,
                 "resolution": incident.resolution, "support_level": incident.support_level,
                 "group": ref(incident.assigned_group), "assignee": ref(incident.assignee)},
    )  # fmt: skip
    return incident


def _reporter_or_worker(actor: User | None, incident: Incident, what: str) -> None:
    if actor is None or incident.reporter_id == actor.pk:
        return
    permissions.require(
        permissions.can_work_incident(actor, incident),
        f"Only the reporter or support staff may {what}.",
    )


@transaction.atomic
def do_close(
    *, incident: Incident | int, actor: User | None, satisfaction: int | None = None,
    comment: str = "", automatic: bool = False, expected_version: int | None = None,
) -> Incident:  # fmt: skip
    """Close a resolved incident: the reporter confirms (and may rate 1-5), or the
    confirmation period ran out (``automatic``)."""
    if satisfaction is not None and not 1 <= satisfaction <= 5:
        raise FieldError("satisfaction", "must be between 1 and 5")
    incident = _lock(incident, expected_version)
    _reporter_or_worker(actor, incident, "close an incident")
    transitions.check(incident.status, Status.CLOSED)
    if satisfaction is not None and actor is not None and incident.reporter_id != actor.pk:
        raise FieldError("satisfaction", "only the reporter rates their satisfaction")
    incident.status, incident.closed_at = Status.CLOSED, clock.now()
    incident.satisfaction, incident.satisfaction_comment = (
        satisfaction,
        comment if satisfaction else "",
    )
    _save(incident, "status", "closed_at", "satisfaction", "satisfaction_comment")
    append_event(
        incident,
        "closed",
        actor=actor,
        payload={"automatic": automatic, "satisfaction": satisfaction, "comment": comment},
    )
    return incident


@transaction.atomic
def do_reopen(
    *, incident: Incident | int, actor: User | None, reason: str = "",
    expected_version: int | None = None,
) -> Incident:  # fmt: skip
    """The reporter rejects the resolution: back to work with the group that resolved it."""
    incident = _lock(incident, expected_version)
    _reporter_or_worker(actor, incident, "reopen an incident")
    transitions.check(incident.status, Status.IN_PROGRESS)
    if incident.status != Status.RESOLVED:
        raise Conflict("Only a resolved incident can be reopened.")
    group = incident.assigned_group or incident.owner_group
    incident.assigned_group, incident.support_level = group, group.level
    incident.status, incident.reopen_count = Status.IN_PROGRESS, incident.reopen_count + 1
    incident.resolved_at, incident.resolution_code, incident.resolution = None, "", ""
    _open_span(incident, group)
    _save(incident, "assigned_group", "support_level", "status", "reopen_count", "resolved_at",
          "resolution_code", "resolution")  # fmt: skip
    append_event(
        incident, "reopened", actor=actor,
        payload={"reason": reason, "reopen_count": incident.reopen_count,
                 "support_level": incident.support_level, "group": ref(group)},
    )  # fmt: skip
    return incident


@transaction.atomic
def do_cancel(
    *, incident: Incident | int, actor: User | None, reason: str = "",
    expected_version: int | None = None,
) -> Incident:  # fmt: skip
    """Withdraw an open incident (reported by mistake, a duplicate)."""
    incident = _lock(incident, expected_version)
    _reporter_or_worker(actor, incident, "cancel an incident")
    transitions.check(incident.status, Status.CANCELLED)
    status_from = incident.status
    incident.status, incident.pending_reason = Status.CANCELLED, ""
    _close_span(incident, AssignmentSpan.EndReason.CANCELLED)
    _save(incident, "status", "pending_reason")
    append_event(
        incident, "cancelled", actor=actor, payload={"status_from": status_from, "reason": reason}
    )
    return incident


# ---- worklog and action plan ----------------------------------------------------------


@transaction.atomic
def do_add_comment(*, incident: Incident | int, actor: User, body: str, public: bool) -> Comment:
    """Add to the worklog. Reporters write public comments on their own incidents;
    support staff write public comments or internal notes."""
    if not body.strip():
        raise FieldError("body", "must not be empty")
    incident = _lock(incident)
    if not (actor.is_support_staff or actor.is_superuser):
        if incident.reporter_id != actor.pk:
            raise NotFound(f"Incident {incident.pk} does not exist.")
        if not public:
            raise PermissionDenied("Internal notes are for support staff.")
    if incident.status in (Status.CLOSED, Status.CANCELLED) and not actor.is_support_staff:
        raise Conflict(
            "The incident is closed; report a new one.", status=incident.status, allowed=[]
        )
    comment = Comment.objects.create(
        incident=incident, author=actor, body=body.strip(), public=public, created_at=clock.now()
    )
    append_event(
        incident, "commented", actor=actor, payload={"comment_id": comment.pk, "public": public}
    )
    return comment


@transaction.atomic
def do_add_task(
    *, incident: Incident | int, actor: User | None, title: str, assignee: User | None = None,
    partner: Partner | None = None, due_at: datetime | None = None,
) -> Task:  # fmt: skip
    """Add a step to the incident's action plan, for a person or a business partner."""
    if not title.strip():
        raise FieldError("title", "must not be empty")
    incident = _lock(incident)
    _require_work(actor, incident)
    transitions.check_open(incident.status, "task_added")
    if actor is None:
        raise PermissionDenied("Tasks are added by people.")
    task = Task.objects.create(
        incident=incident, title=title.strip(), assignee=assignee, partner=partner, due_at=due_at,
        created_by=actor, created_at=clock.now(),
    )  # fmt: skip
    append_event(
        incident, "task_added", actor=actor,
        payload={"task_id": task.pk, "title": task.title, "assignee": ref(assignee),
                 "partner": ref(partner), "due_at": due_at.isoformat() if due_at else None},
    )  # fmt: skip
    return task


@transaction.atomic
def do_complete_task(*, task: Task, actor: User | None) -> Task:
    incident = _lock(task.incident_id)
    _require_work(actor, incident)
    task = Task.objects.select_for_update().get(pk=task.pk)
    if task.done_at is not None:
        return task
    task.done_at = clock.now()
    task.save(update_fields=["done_at"])
    append_event(
        incident, "task_done", actor=actor, payload={"task_id": task.pk, "title": task.title}
    )
    return task


# ---- background ----------------------------------------------------------------------


def close_unconfirmed(limit: int = 500) -> int:
    """Close incidents resolved longer ago than the confirmation period."""
    cutoff = clock.now() - timedelta(days=settings.SERVICEDESK_AUTO_CLOSE_DAYS)
    ids = list(
        Incident.objects.filter(status=Status.RESOLVED, resolved_at__lt=cutoff)
        .order_by("resolved_at")
        .values_list("pk", flat=True)[:limit]
    )
    closed = 0
    for pk in ids:
        try:
            do_close(incident=pk, actor=None, automatic=True)
            closed += 1
        except (Conflict, NotFound):
            continue  # reopened or closed meanwhile
    return closed
