"""The verbs of problem control. Each runs in one transaction, locks the problem
row, checks the actor's permission and the transition table, changes the
record, appends one timeline event and publishes it (``core.events``, subject
"problem"). ``actor=None`` is the system.

Incident-side effects go through the foundation's incident services
(``do_set_pending``) and ``append_event`` with the types registered in
``incident_events.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction

from servicedesk.accounts.models import SupportGroup, User
from servicedesk.accounts.services import find_group
from servicedesk.catalog.models import Category, ConfigurationItem, Service, Technology, UserGroup
from servicedesk.core import clock, locking
from servicedesk.core import events as bus
from servicedesk.core.errors import Conflict, FieldError, NotFound, PreconditionFailed
from servicedesk.core.lookups import resolve
from servicedesk.incidents import services as incident_services
from servicedesk.incidents.events import ref
from servicedesk.incidents.models import OPEN_STATUSES as OPEN_INCIDENT_STATUSES
from servicedesk.incidents.models import Incident, PendingReason

from . import conf, events, incident_events, permissions, scoring, transitions
from .models import Problem, ProblemEvent, ProblemIncident, ProblemSpan, Source, Status

assert incident_events  # registers the incident event types this module writes

EDITABLE_VALUES = (
    "title", "description", "priority", "major", "users_affected", "business_impact",
    "cost_estimate", "cause_estimate_hours",
)  # fmt: skip
EDITABLE_REFERENCES: dict[str, type] = {
    "technology": Technology,
    "service": Service,
    "category": Category,
    "owner": User,
}
EDITABLE_MANY: dict[str, type] = {
    "configuration_items": ConfigurationItem,
    "user_groups": UserGroup,
    "team": User,
}
SCORE_FIELDS = {"users_affected", "business_impact", "cost_estimate"}
_OPEN_INCIDENT = [str(s) for s in OPEN_INCIDENT_STATUSES]


# ---- helpers -------------------------------------------------------------------------


def _lock(problem: Problem | int, expected_version: int | None = None) -> Problem:
    pk = problem.pk if isinstance(problem, Problem) else problem
    locked = locking.lock_one(
        Problem.objects.all(), pk,
        ("owner_group", "assigned_group", "assignee", "owner", "technology"),
    )  # fmt: skip
    if locked is None:
        raise NotFound(f"Problem {pk} does not exist.")
    if expected_version is not None and locked.version != expected_version:
        raise PreconditionFailed(
            "The problem was changed by someone else; reload it and try again.",
            current_version=locked.version,
        )
    return locked


def _save(problem: Problem, *fields: str) -> None:
    problem.version += 1
    problem.updated_at = clock.now()
    problem.save(update_fields=[*fields, "version", "updated_at"])


def append_event(
    problem: Problem, event_type: str, *, actor: User | None, payload: dict[str, Any]
) -> ProblemEvent:
    """Append to the problem's timeline and publish it (inside the caller's transaction)."""
    event = ProblemEvent.objects.create(
        problem=problem,
        type=event_type,
        actor=actor,
        at=clock.now(),
        payload=events.validate(event_type, payload),
    )
    bus.publish("problem", event)
    return event


def _open_span(problem: Problem, group: SupportGroup | None) -> None:
    if group is not None:
        ProblemSpan.objects.create(
            problem=problem, group=group, support_level=group.level, started_at=clock.now()
        )


def _close_span(problem: Problem, reason: str) -> None:
    ProblemSpan.objects.filter(problem=problem, ended_at__isnull=True).update(
        ended_at=clock.now(), end_reason=reason
    )


def _start_clock(problem: Problem) -> None:
    if problem.investigation_started_at is None:
        problem.investigation_started_at = clock.now()


def _stop_clock(problem: Problem) -> None:
    if problem.investigation_started_at is not None:
        elapsed = (clock.now() - problem.investigation_started_at).total_seconds()
        problem.investigation_seconds += max(0, int(elapsed))
        problem.investigation_started_at = None


def investigation_hours(problem: Problem, now: datetime | None = None) -> float:
    """Hours spent investigating so far (time under investigation; deferral stops it)."""
    seconds = float(problem.investigation_seconds)
    if problem.investigation_started_at is not None:
        seconds += max(
            0.0, ((now or clock.now()) - problem.investigation_started_at).total_seconds()
        )
    return seconds / 3600


def refresh_score(problem: Problem) -> None:
    """Recompute the stored selection score (the portfolio is ordered by it)."""
    score = scoring.compute(problem)
    if score != problem.score:
        Problem.objects.filter(pk=problem.pk).update(score=score)
        problem.score = score


def _owner_group(technology: Technology | None) -> SupportGroup:
    """The 2nd line owns problems (SPEC Table 2): the technology's operations group."""
    group = find_group(level=2, technology_id=technology.pk if technology else None)
    if group is None:
        group = SupportGroup.objects.filter(level=2, is_active=True).order_by("pk").first()
    if group is None:
        raise Conflict("No active 2nd-line support group is configured to own problems.")
    return group


def _serialise(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "pk"):
        return ref(value)
    return value


def _check_values(priority: int, business_impact: int, estimate: int) -> None:
    if not 1 <= priority <= 5:
        raise FieldError("priority", "must be between 1 and 5")
    if not 0 <= business_impact <= 5:
        raise FieldError("business_impact", "must be between 0 and 5")
    if not 1 <= estimate <= 100_000:
        raise FieldError("cause_estimate_hours", "must be between 1 and 100000 hours")


# ---- opening ---------------------------------------------------------------------------


@transaction.atomic
def do_create_problem(
    *,
    actor: User | None,
    title: str,
    description: str = "",
    source: str = Source.MANUAL,
    technology: Technology | None = None,
    service: Service | None = None,
    category: Category | None = None,
    configuration_items: Iterable[ConfigurationItem] = (),
    user_groups: Iterable[UserGroup] = (),
    priority: int = 3,
    major: bool = False,
    users_affected: int = 0,
    business_impact: int = 0,
    cost_estimate: Decimal | int = 0,
    cause_estimate_hours: int | None = None,
    owner_group: SupportGroup | None = None,
    owner: User | None = None,
    assigned_group: SupportGroup | None = None,
    team: Iterable[User] = (),
    incidents: Iterable[Incident] = (),
    set_pending: bool = False,
    candidate_id: int | None = None,
) -> Problem:
    """Open a problem (by hand, from a candidate or from the review queue).

    The 2nd line of the technology owns it unless ``owner_group`` is given;
    catalogue fields left empty are taken from the first linked incident.
    ``cause_estimate_hours`` is the estimate to find the cause (portfolio).
    """
    permissions.require_staff(actor, "open problems")
    if not title.strip():
        raise FieldError("title", "must not be empty")
    if source not in Source.values:
        raise FieldError("source", f"must be one of: {', '.join(Source.values)}")
    estimate = cause_estimate_hours or conf.default_estimate_hours()
    _check_values(priority, business_impact, estimate)
    incidents = list(incidents)
    configuration_items = list(configuration_items)
    user_groups = list(user_groups)
    first = incidents[0] if incidents else None
    if first is not None:
        service = service or first.service
        category = category or first.category
        if not configuration_items and first.configuration_item is not None:
            configuration_items = [first.configuration_item]
        technology = technology or first.technology
        if not user_groups:
            user_groups = list({i.user_group for i in incidents if i.user_group is not None})
    if technology is None and service is not None:
        technology = service.technology
    if technology is None and configuration_items:
        technology = configuration_items[0].technology
    owner_group = owner_group or _owner_group(technology)
    group = assigned_group or owner_group
    now = clock.now()
    problem = Problem.objects.create(
        title=title.strip(), description=description, source=source, technology=technology,
        service=service, category=category, priority=priority, major=major,
        users_affected=users_affected, business_impact=business_impact,
        cost_estimate=Decimal(cost_estimate), cause_estimate_hours=estimate,
        owner_group=owner_group, owner=owner, assigned_group=group, support_level=group.level,
        status=Status.NEW, opened_at=now, updated_at=now, created_by=actor,
    )  # fmt: skip
    problem.configuration_items.set(configuration_items)
    problem.user_groups.set(user_groups)
    problem.team.set(list(team))
    _open_span(problem, group)
    append_event(
        problem, "created", actor=actor,
        payload={"status": problem.status, "source": source, "priority": priority,
                 "support_level": problem.support_level, "owner_group": ref(owner_group),
                 "assigned_group": ref(group), "cause_estimate_hours": estimate,
                 "incidents": [ref(i) for i in incidents], "candidate_id": candidate_id},
    )  # fmt: skip
    for incident in incidents:
        _link(problem, incident, actor=actor, set_pending=set_pending, comment="")
    if incidents:
        from .candidates import settle_candidates_for

        settle_candidates_for(incidents, problem=problem, actor=actor)
    refresh_score(problem)
    return problem


@transaction.atomic
def do_update_problem(
    *, problem: Problem | int, actor: User | None, changes: dict[str, Any],
    expected_version: int | None = None,
) -> Problem:  # fmt: skip
    """Change fields; references and lists by id (``team``, ``configuration_items``, ...)."""
    problem = _lock(problem, expected_version)
    permissions.require_work(actor, problem)
    transitions.check_open(problem.status, "updated")
    unknown = set(changes) - set(EDITABLE_VALUES) - set(EDITABLE_REFERENCES) - set(EDITABLE_MANY)
    if unknown:
        raise FieldError(sorted(unknown)[0], "this field cannot be changed here")
    diff: dict[str, dict[str, Any]] = {}
    changed_fields: list[str] = []
    for field, value in changes.items():
        if field in EDITABLE_MANY:
            ids = sorted(set(value or []))
            records = [resolve(EDITABLE_MANY[field], pk, field) for pk in ids]
            manager = getattr(problem, field)
            old = sorted(manager.values_list("pk", flat=True))
            if old != ids:
                manager.set(records)
                diff[field] = {"from": old, "to": ids}
            continue
        if field in EDITABLE_REFERENCES:
            value = resolve(EDITABLE_REFERENCES[field], value, field)
        elif field == "title":
            value = (value or "").strip()
            if not value:
                raise FieldError("title", "must not be empty")
        elif field == "cost_estimate":
            value = Decimal(value or 0)
        elif value is None:
            raise FieldError(field, "must not be null")
        old = getattr(problem, field)
        if old != value:
            setattr(problem, field, value)
            diff[field] = {"from": _serialise(old), "to": _serialise(value)}
            changed_fields.append(field)
    _check_values(problem.priority, problem.business_impact, problem.cause_estimate_hours)
    if not diff:
        return problem
    _save(problem, *changed_fields)
    append_event(problem, "updated", actor=actor, payload={"changes": diff})
    if SCORE_FIELDS & set(diff):
        refresh_score(problem)
    return problem


# ---- the life cycle --------------------------------------------------------------------


@transaction.atomic
def do_start_investigation(
    *, problem: Problem | int, actor: User | None, comment: str = "",
    expected_version: int | None = None,
) -> Problem:  # fmt: skip
    """Start (or resume, or reopen) the search for the cause; the investigation
    clock runs while the problem is under investigation."""
    problem = _lock(problem, expected_version)
    permissions.require_work(actor, problem)
    transitions.check(problem.status, Status.UNDER_INVESTIGATION)
    status_from = problem.status
    if status_from == Status.DEFERRED:
        problem.deferred_at = None
    if not problem.spans.filter(ended_at__isnull=True).exists():
        _open_span(problem, problem.assigned_group or problem.owner_group)
    problem.status = Status.UNDER_INVESTIGATION
    _start_clock(problem)
    if status_from == Status.RESOLVED:
        problem.resolved_at, problem.resolution = None, ""
    _save(problem, "status", "deferred_at", "investigation_started_at", "resolved_at", "resolution")
    append_event(
        problem, "status_changed", actor=actor,
        payload={"status_from": status_from, "status_to": problem.status, "comment": comment},
    )  # fmt: skip
    return problem


@transaction.atomic
def do_defer(
    *, problem: Problem | int, actor: User | None, reason: str,
    expected_version: int | None = None,
) -> Problem:  # fmt: skip
    """Not chosen for investigation now: still tracked and reportable, resumable."""
    if not reason.strip():
        raise FieldError("reason", "say why the problem is deferred")
    problem = _lock(problem, expected_version)
    permissions.require_manager(actor, "defer problems")
    transitions.check(problem.status, Status.DEFERRED)
    status_from = problem.status
    _stop_clock(problem)
    _close_span(problem, ProblemSpan.EndReason.DEFERRED)
    problem.status, problem.deferred_reason, problem.deferred_at = (
        Status.DEFERRED, reason.strip(), clock.now(),
    )  # fmt: skip
    _save(problem, "status", "deferred_reason", "deferred_at", "investigation_seconds",
          "investigation_started_at")  # fmt: skip
    append_event(
        problem, "deferred", actor=actor,
        payload={"status_from": status_from, "reason": problem.deferred_reason},
    )  # fmt: skip
    return problem


@transaction.atomic
def do_record_root_cause(
    *, problem: Problem | int, actor: User | None, root_cause: str, symptoms: str = "",
    create_known_error: bool = True, expected_version: int | None = None,
) -> Problem:  # fmt: skip
    """The cause is found: record it (the problem becomes a known error, SPEC 1).

    A known error is created from the problem unless one exists or
    ``create_known_error`` is false; its workaround is published separately
    (:func:`do_publish_workaround`).
    """
    if not root_cause.strip():
        raise FieldError("root_cause", "describe the root cause")
    problem = _lock(problem, expected_version)
    permissions.require_work(actor, problem)
    transitions.check(problem.status, Status.ROOT_CAUSE_KNOWN)
    status_from = problem.status
    _stop_clock(problem)
    problem.status, problem.root_cause = Status.ROOT_CAUSE_KNOWN, root_cause.strip()
    problem.root_cause_found_at = clock.now()
    _save(problem, "status", "root_cause", "root_cause_found_at", "investigation_seconds",
          "investigation_started_at")  # fmt: skip
    known_error = None
    if create_known_error:
        from servicedesk.knownerrors import services as ke_services

        known_error = ke_services.known_error_for_problem(
            problem=problem, actor=actor, symptoms=symptoms
        )
        if known_error.root_cause != problem.root_cause:
            # It was created earlier (a workaround published before the cause was known).
            known_error = ke_services.do_update_known_error(
                known_error=known_error, actor=actor, changes={"root_cause": problem.root_cause}
            )
    append_event(
        problem, "root_cause_found", actor=actor,
        payload={"status_from": status_from, "root_cause": problem.root_cause,
                 "investigation_hours": round(investigation_hours(problem), 2),
                 "cause_estimate_hours": problem.cause_estimate_hours,
                 "known_error": ref(known_error)},
    )  # fmt: skip
    return problem


@transaction.atomic
def do_publish_workaround(
    *, problem: Problem | int, actor: User | None, workaround: str, audience: str = "support",
    expected_version: int | None = None,
) -> Problem:  # fmt: skip
    """Document the workaround and communicate it to all support levels (and the
    portal when ``audience`` is "portal"): it is published on the problem's
    known error (created if needed) and every linked open incident is told."""
    if not workaround.strip():
        raise FieldError("workaround", "describe the workaround")
    problem = _lock(problem, expected_version)
    permissions.require_work(actor, problem)
    transitions.check_open(problem.status, "workaround_published")
    from servicedesk.knownerrors import services as ke_services

    known_error = ke_services.known_error_for_problem(problem=problem, actor=actor)
    known_error = ke_services.do_publish_workaround(
        known_error=known_error, actor=actor, workaround=workaround, audience=audience
    )
    problem.workaround = workaround.strip()
    _save(problem, "workaround")
    append_event(
        problem, "workaround_published", actor=actor,
        payload={"workaround": problem.workaround, "audience": audience,
                 "known_error": ref(known_error)},
    )  # fmt: skip
    for link in problem.incident_links.select_related("incident").filter(
        incident__status__in=_OPEN_INCIDENT
    ):
        incident_services.append_event(
            link.incident, "workaround_available", actor=actor,
            payload={"problem": ref(problem), "known_error": ref(known_error),
                     "workaround": problem.workaround},
        )  # fmt: skip
    return problem


@transaction.atomic
def do_resolve(
    *, problem: Problem | int, actor: User | None, resolution: str,
    expected_version: int | None = None,
) -> Problem:  # fmt: skip
    """The cause is removed (a fix implemented) or the workaround suffices."""
    if not resolution.strip():
        raise FieldError("resolution", "describe how the problem was resolved")
    problem = _lock(problem, expected_version)
    permissions.require_work(actor, problem)
    transitions.check(problem.status, Status.RESOLVED)
    status_from = problem.status
    problem.status, problem.resolution, problem.resolved_at = (
        Status.RESOLVED, resolution.strip(), clock.now(),
    )  # fmt: skip
    _close_span(problem, ProblemSpan.EndReason.RESOLVED)
    _save(problem, "status", "resolution", "resolved_at")
    append_event(
        problem, "resolved", actor=actor,
        payload={"status_from": status_from, "resolution": problem.resolution},
    )  # fmt: skip
    return problem


@transaction.atomic
def do_close(
    *, problem: Problem | int, actor: User | None, reason: str = "",
    expected_version: int | None = None,
) -> Problem:  # fmt: skip
    """Close a resolved problem, or withdraw one (not a problem, a duplicate: say why)."""
    problem = _lock(problem, expected_version)
    transitions.check(problem.status, Status.CLOSED)
    if problem.status == Status.RESOLVED:
        permissions.require_work(actor, problem)
    else:
        permissions.require_manager(actor, "close unresolved problems")
        if not reason.strip():
            raise FieldError("reason", "say why an unresolved problem is closed")
    status_from = problem.status
    _stop_clock(problem)
    _close_span(problem, ProblemSpan.EndReason.CLOSED)
    problem.status, problem.close_reason, problem.closed_at = (
        Status.CLOSED, reason.strip(), clock.now(),
    )  # fmt: skip
    _save(problem, "status", "close_reason", "closed_at", "investigation_seconds",
          "investigation_started_at")  # fmt: skip
    append_event(
        problem, "closed", actor=actor, payload={"status_from": status_from, "reason": reason}
    )
    return problem


# ---- moving between groups and levels ------------------------------------------------


def _move_to_group(problem: Problem, group: SupportGroup, span_end: str) -> None:
    if problem.assigned_group_id != group.pk:
        _close_span(problem, span_end)
        if problem.status != Status.DEFERRED:
            _open_span(problem, group)
    problem.assigned_group = group
    problem.support_level = group.level


@transaction.atomic
def do_assign(
    *, problem: Problem | int, actor: User | None, group: SupportGroup | None = None,
    assignee: User | None = None, expected_version: int | None = None,
) -> Problem:  # fmt: skip
    """Hand the problem to a group and/or a person (the span records time per group)."""
    problem = _lock(problem, expected_version)
    permissions.require_work(actor, problem)
    transitions.check_open(problem.status, "assigned")
    if group is None and assignee is None:
        raise FieldError("group", "give a group, an assignee or both")
    target = group or problem.assigned_group
    if target is not None and not target.is_active:
        raise FieldError("group", "this group is inactive")
    if assignee is not None:
        if not assignee.is_active or not assignee.is_support_staff:
            raise FieldError("assignee", "must be an active member of support staff")
        if target is not None and not target.members.filter(pk=assignee.pk).exists():
            raise FieldError("assignee", f"is not a member of {target}")
    before = (problem.assigned_group, problem.assignee)
    if target is not None:
        _move_to_group(problem, target, ProblemSpan.EndReason.REASSIGNED)
    group_changed = before[0] != problem.assigned_group
    problem.assignee = (
        assignee if assignee is not None else (None if group_changed else problem.assignee)
    )
    if before == (problem.assigned_group, problem.assignee):
        return problem
    _save(problem, "assigned_group", "assignee", "support_level")
    append_event(
        problem, "assigned", actor=actor,
        payload={"from_group": ref(before[0]), "to_group": ref(problem.assigned_group),
                 "from_assignee": ref(before[1]), "to_assignee": ref(problem.assignee),
                 "support_level": problem.support_level},
    )  # fmt: skip
    return problem


@transaction.atomic
def do_escalate(
    *, problem: Problem | int, actor: User | None, reason: str = "",
    expected_version: int | None = None,
) -> Problem:  # fmt: skip
    """The cause exceeds this level: hand the problem to the next level's group
    for its technology (usually the 3rd line, development or engineering)."""
    problem = _lock(problem, expected_version)
    permissions.require_work(actor, problem)
    transitions.check_open(problem.status, "escalated")
    level = problem.support_level + 1
    if level > 3:
        raise Conflict("The problem is already at the 3rd line, the last support level.")
    group = find_group(level=level, technology_id=problem.technology_id)
    if group is None:
        raise Conflict(
            f"No active support group at level {level} for "
            f"{problem.technology or 'problems without a technology'}."
        )
    from_group, from_level = problem.assigned_group, problem.support_level
    _move_to_group(problem, group, ProblemSpan.EndReason.ESCALATED)
    problem.assignee = None
    _save(problem, "assigned_group", "support_level", "assignee")
    append_event(
        problem, "escalated", actor=actor,
        payload={"from_level": from_level, "to_level": level, "from_group": ref(from_group),
                 "to_group": ref(group), "reason": reason},
    )  # fmt: skip
    return problem


@transaction.atomic
def do_de_escalate(
    *, problem: Problem | int, actor: User | None, reason: str = "",
    expected_version: int | None = None,
) -> Problem:  # fmt: skip
    """Hand the problem back one level (never below the 2nd line, which owns it)."""
    problem = _lock(problem, expected_version)
    permissions.require_work(actor, problem)
    transitions.check_open(problem.status, "de_escalated")
    if problem.support_level <= 2:
        raise Conflict("Problems are owned by the 2nd line; it cannot go lower.")
    level = problem.support_level - 1
    group = (
        problem.owner_group
        if problem.owner_group.level == level
        else find_group(level=level, technology_id=problem.technology_id)
    )
    if group is None:
        raise Conflict(f"No active support group at level {level} for this problem.")
    from_group, from_level = problem.assigned_group, problem.support_level
    _move_to_group(problem, group, ProblemSpan.EndReason.DE_ESCALATED)
    problem.assignee = None
    _save(problem, "assigned_group", "support_level", "assignee")
    append_event(
        problem, "de_escalated", actor=actor,
        payload={"from_level": from_level, "to_level": level, "from_group": ref(from_group),
                 "to_group": ref(group), "reason": reason},
    )  # fmt: skip
    return problem


# ---- incidents ---------------------------------------------------------------------------


def _link(
    problem: Problem, incident: Incident, *, actor: User | None, set_pending: bool, comment: str
) -> ProblemIncident:
    incident = Incident.objects.select_for_update(of=("self",)).get(pk=incident.pk)
    existing = ProblemIncident.objects.filter(incident=incident).select_related("problem").first()
    if existing is not None:
        if existing.problem_id == problem.pk:
            return existing
        raise Conflict(
            f"{incident.number} is already linked to {existing.problem.number}; unlink it first."
        )
    link = ProblemIncident.objects.create(
        problem=problem, incident=incident, linked_at=clock.now(), linked_by=actor
    )
    pending = set_pending and incident.status in _OPEN_INCIDENT
    append_event(
        problem, "incident_linked", actor=actor,
        payload={"incident": ref(incident), "set_pending": pending, "comment": comment},
    )  # fmt: skip
    incident_services.append_event(
        incident, "problem_linked", actor=actor,
        payload={"problem": ref(problem), "set_pending": pending},
    )  # fmt: skip
    if pending:
        incident_services.do_set_pending(
            incident=incident.pk, actor=actor, reason=PendingReason.AWAITING_PROBLEM,
            comment=comment or f"Waiting for {problem.number}: {problem.title}",
        )  # fmt: skip
    return link


@transaction.atomic
def do_link_incident(
    *, problem: Problem | int, incident: Incident | int, actor: User | None,
    set_pending: bool = False, comment: str = "",
) -> ProblemIncident:  # fmt: skip
    """Link an incident to the problem that causes it (one problem per incident).

    With ``set_pending`` an open incident waits for the problem
    (``pending``/``awaiting_problem``, through the incident services)."""
    problem = _lock(problem)
    permissions.require_staff(actor, "link incidents to problems")
    if problem.status == Status.CLOSED:
        raise Conflict("The problem is closed.", status=problem.status, allowed=[])
    incident_obj = Incident.objects.filter(
        pk=incident.pk if isinstance(incident, Incident) else incident
    ).first()
    if incident_obj is None:
        raise FieldError("incident", f"no incident with id {incident}")
    link = _link(problem, incident_obj, actor=actor, set_pending=set_pending, comment=comment)
    from .candidates import settle_candidates_for

    settle_candidates_for([incident_obj], problem=problem, actor=actor)
    refresh_score(problem)
    return link


@transaction.atomic
def do_unlink_incident(
    *, problem: Problem | int, incident: Incident | int, actor: User | None, comment: str = ""
) -> None:
    """Remove a wrong link. An incident left pending on the problem stays pending
    (its group decides what next): the incident timeline says it was unlinked."""
    problem = _lock(problem)
    permissions.require_staff(actor, "unlink incidents from problems")
    incident_id = incident.pk if isinstance(incident, Incident) else incident
    link = ProblemIncident.objects.filter(problem=problem, incident_id=incident_id).first()
    if link is None:
        raise NotFound(f"Incident {incident_id} is not linked to {problem.number}.")
    incident_obj = Incident.objects.select_for_update(of=("self",)).get(pk=incident_id)
    link.delete()
    append_event(
        problem, "incident_unlinked", actor=actor,
        payload={"incident": ref(incident_obj), "comment": comment},
    )  # fmt: skip
    incident_services.append_event(
        incident_obj, "problem_unlinked", actor=actor, payload={"problem": ref(problem)}
    )
    refresh_score(problem)


def recompute_scores() -> int:
    """Recompute every open problem's score (after the selection weights change)."""
    count = 0
    for problem in Problem.objects.filter(status__in=[s for s in Status if s != Status.CLOSED]):
        refresh_score(problem)
        count += 1
    return count
