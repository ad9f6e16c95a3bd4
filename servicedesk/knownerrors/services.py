"""The verbs of error control: known errors, workarounds, their application to
incidents, closing. Fix projects are in ``fixes.py``. Each verb runs in one
transaction, locks its row, checks permission and transitions, appends a
timeline event and publishes it (subject "known_error"); the matching index
is kept in the same transaction (``search.reindex``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction

from servicedesk.accounts import permissions as account_permissions
from servicedesk.accounts.models import User
from servicedesk.catalog.models import ConfigurationItem, Service, Technology
from servicedesk.core import clock, locking
from servicedesk.core import events as bus
from servicedesk.core.errors import (
    Conflict,
    FieldError,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
)
from servicedesk.core.lookups import resolve
from servicedesk.incidents import services as incident_services
from servicedesk.incidents.events import ref
from servicedesk.incidents.models import OPEN_STATUSES as OPEN_INCIDENT_STATUSES
from servicedesk.incidents.models import Incident, ResolutionCode
from servicedesk.problems import permissions
from servicedesk.problems.models import Problem, ProblemIncident

from . import events, incident_events, search, text, transitions
from .models import (
    Audience,
    ErrorCode,
    FixStatus,
    KnownError,
    KnownErrorEvent,
    KnownErrorIncident,
    Status,
)

assert incident_events  # registers the incident event types this module writes

EDITABLE_VALUES = ("title", "symptoms", "root_cause", "workaround", "permanent_fix", "keywords",
                   "priority")  # fmt: skip
EDITABLE_REFERENCES: dict[str, type] = {"technology": Technology}
EDITABLE_MANY: dict[str, type] = {"services": Service, "configuration_items": ConfigurationItem}
OPEN_INCIDENTS = [str(s) for s in OPEN_INCIDENT_STATUSES]


# ---- helpers -------------------------------------------------------------------------


def _lock(known_error: KnownError | int, expected_version: int | None = None) -> KnownError:
    pk = known_error.pk if isinstance(known_error, KnownError) else known_error
    locked = locking.lock_one(KnownError.objects.all(), pk, ("problem", "technology"))
    if locked is None:
        raise NotFound(f"Known error {pk} does not exist.")
    if expected_version is not None and locked.version != expected_version:
        raise PreconditionFailed(
            "The known error was changed by someone else; reload it and try again.",
            current_version=locked.version,
        )
    return locked


def _save(known_error: KnownError, *fields: str) -> None:
    known_error.version += 1
    known_error.updated_at = clock.now()
    known_error.save(update_fields=[*fields, "version", "updated_at"])


def append_event(
    known_error: KnownError, event_type: str, *, actor: User | None, payload: dict[str, Any]
) -> KnownErrorEvent:
    event = KnownErrorEvent.objects.create(
        known_error=known_error, type=event_type, actor=actor, at=clock.now(),
        payload=events.validate(events.KNOWN_ERROR_EVENTS, event_type, payload),
    )  # fmt: skip
    bus.publish("known_error", event)
    return event


def _check_audience(audience: str) -> None:
    if audience not in Audience.values:
        raise FieldError("audience", f"must be one of: {', '.join(Audience.values)}")


def _set_codes(known_error: KnownError, codes: Iterable[str]) -> list[str]:
    wanted: dict[str, str] = {}
    for raw in codes:
        raw = raw.strip()
        normalised = text.normalise_code(raw)
        if normalised and normalised not in wanted:
            wanted[normalised] = raw[:64]
    known_error.codes.exclude(normalised__in=list(wanted)).delete()
    existing = set(known_error.codes.values_list("normalised", flat=True))
    ErrorCode.objects.bulk_create(
        [ErrorCode(known_error=known_error, code=raw, normalised=n)
         for n, raw in wanted.items() if n not in existing]
    )  # fmt: skip
    return list(wanted.values())


def _status_event(known_error: KnownError, event_type: str, *, actor: User | None,
                  status_from: str, reason: str = "", fix_project: Any = None) -> None:  # fmt: skip
    append_event(
        known_error, event_type, actor=actor,
        payload={"status_from": status_from, "status_to": known_error.status, "reason": reason,
                 "fix_project": ref(fix_project)},
    )  # fmt: skip


# ---- creating and editing ----------------------------------------------------------------


@transaction.atomic
def do_create_known_error(
    *,
    actor: User | None,
    title: str,
    symptoms: str,
    root_cause: str,
    workaround: str,
    permanent_fix: str = "",
    keywords: str = "",
    problem: Problem | None = None,
    technology: Technology | None = None,
    services: Iterable[Service] = (),
    configuration_items: Iterable[ConfigurationItem] = (),
    error_codes: Iterable[str] = (),
    priority: int = 3,
    audience: str = Audience.SUPPORT,
) -> KnownError:
    """Register a known error (from a problem, or directly, e.g. from change
    management). The workaround is published for ``audience`` at once unless it
    is "unpublished" (a draft is never matched)."""
    permissions.require_investigator(actor, "register known errors")
    _check_audience(audience)
    for field, value in (("title", title), ("symptoms", symptoms), ("root_cause", root_cause)):
        if not value.strip():
            raise FieldError(field, "must not be empty")
    if audience != Audience.UNPUBLISHED and not workaround.strip():
        raise FieldError("workaround", "a published known error needs a workaround")
    if not 1 <= priority <= 5:
        raise FieldError("priority", "must be between 1 and 5")
    services = list(services)
    configuration_items = list(configuration_items)
    if technology is None:
        technology = next((s.technology for s in services if s.technology), None) or next(
            (c.technology for c in configuration_items if c.technology), None
        )
    now = clock.now()
    known_error = KnownError.objects.create(
        title=title.strip(), symptoms=symptoms.strip(), root_cause=root_cause.strip(),
        workaround=workaround.strip(), permanent_fix=permanent_fix.strip(), keywords=keywords,
        problem=problem, technology=technology, priority=priority, audience=audience,
        workaround_published_at=now if audience != Audience.UNPUBLISHED else None,
        created_by=actor, created_at=now, updated_at=now,
    )  # fmt: skip
    known_error.services.set(services)
    known_error.configuration_items.set(configuration_items)
    _set_codes(known_error, error_codes)
    search.reindex(known_error)
    append_event(
        known_error, "created", actor=actor,
        payload={"status": known_error.status, "audience": audience, "problem": ref(problem)},
    )  # fmt: skip
    if audience != Audience.UNPUBLISHED:
        append_event(
            known_error, "workaround_published", actor=actor,
            payload={"workaround": known_error.workaround, "audience": audience,
                     "problem": ref(problem)},
        )  # fmt: skip
    return known_error


def known_error_for_problem(
    *, problem: Problem, actor: User | None, symptoms: str = ""
) -> KnownError:
    """The problem's known error (not closed), created as a draft when it has none.
    Runs inside the caller's transaction (the problem services)."""
    existing = problem.known_errors.exclude(status=Status.CLOSED).order_by("pk").first()
    if existing is not None:
        return existing
    return do_create_known_error(
        actor=actor, title=problem.title,
        symptoms=symptoms or problem.description or problem.title,
        root_cause=problem.root_cause or "Under investigation.", workaround=problem.workaround,
        problem=problem, technology=problem.technology,
        services=[problem.service] if problem.service else [],
        configuration_items=list(problem.configuration_items.all()),
        priority=problem.priority, audience=Audience.UNPUBLISHED,
    )  # fmt: skip


def _serialise(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "pk"):
        return ref(value)
    return value


@transaction.atomic
def do_update_known_error(
    *, known_error: KnownError | int, actor: User | None, changes: dict[str, Any],
    expected_version: int | None = None,
) -> KnownError:  # fmt: skip
    """Change fields (references and lists by id, ``error_codes`` as strings). A
    changed workaround of a published known error is published again."""
    known_error = _lock(known_error, expected_version)
    permissions.require_investigator(actor, "edit known errors")
    if known_error.status == Status.CLOSED:
        raise Conflict("The known error is closed.", status=known_error.status, allowed=[])
    allowed = set(EDITABLE_VALUES) | set(EDITABLE_REFERENCES) | set(EDITABLE_MANY) | {"error_codes"}
    unknown = set(changes) - allowed
    if unknown:
        raise FieldError(sorted(unknown)[0], "this field cannot be changed here")
    diff: dict[str, dict[str, Any]] = {}
    fields: list[str] = []
    for field, value in changes.items():
        if field == "error_codes":
            old_codes = sorted(known_error.codes.values_list("code", flat=True))
            new_codes = sorted(_set_codes(known_error, value or []))
            if old_codes != new_codes:
                diff[field] = {"from": old_codes, "to": new_codes}
            continue
        if field in EDITABLE_MANY:
            ids = sorted(set(value or []))
            records = [resolve(EDITABLE_MANY[field], pk, field) for pk in ids]
            manager = getattr(known_error, field)
            old = sorted(manager.values_list("pk", flat=True))
            if old != ids:
                manager.set(records)
                diff[field] = {"from": old, "to": ids}
            continue
        if field in EDITABLE_REFERENCES:
            value = resolve(EDITABLE_REFERENCES[field], value, field)
        elif value is None:
            raise FieldError(field, "must not be null")
        elif isinstance(value, str):
            value = value.strip()
            if field in ("title", "symptoms", "root_cause") and not value:
                raise FieldError(field, "must not be empty")
        if field == "priority" and not 1 <= value <= 5:
            raise FieldError("priority", "must be between 1 and 5")
        if field == "workaround" and not value and known_error.is_published:
            raise FieldError("workaround", "withdraw the workaround before emptying it")
        old = getattr(known_error, field)
        if old != value:
            setattr(known_error, field, value)
            diff[field] = {"from": _serialise(old), "to": _serialise(value)}
            fields.append(field)
    if not diff:
        return known_error
    _save(known_error, *fields)
    search.reindex(known_error)
    append_event(known_error, "updated", actor=actor, payload={"changes": diff})
    if "workaround" in diff and known_error.is_published:
        append_event(
            known_error, "workaround_published", actor=actor,
            payload={"workaround": known_error.workaround, "audience": known_error.audience,
                     "problem": ref(known_error.problem)},
        )  # fmt: skip
    return known_error


@transaction.atomic
def do_publish_workaround(
    *, known_error: KnownError | int, actor: User | None, workaround: str | None = None,
    audience: str = Audience.SUPPORT, expected_version: int | None = None,
) -> KnownError:  # fmt: skip
    """Publish the workaround for all support levels ("support") or also for end
    users ("portal"): from now on it is matched, and support levels are told."""
    _check_audience(audience)
    if audience == Audience.UNPUBLISHED:
        raise FieldError("audience", "publish for 'support' or 'portal'; withdraw to unpublish")
    known_error = _lock(known_error, expected_version)
    permissions.require_investigator(actor, "publish workarounds")
    if known_error.status == Status.CLOSED:
        raise Conflict("The known error is closed.", status=known_error.status, allowed=[])
    if workaround is not None:
        known_error.workaround = workaround.strip()
    if not known_error.workaround:
        raise FieldError("workaround", "describe the workaround")
    known_error.audience, known_error.workaround_published_at = audience, clock.now()
    _save(known_error, "workaround", "audience", "workaround_published_at")
    search.reindex(known_error)
    append_event(
        known_error, "workaround_published", actor=actor,
        payload={"workaround": known_error.workaround, "audience": audience,
                 "problem": ref(known_error.problem)},
    )  # fmt: skip
    return known_error


@transaction.atomic
def do_withdraw_workaround(
    *, known_error: KnownError | int, actor: User | None, reason: str = "",
    expected_version: int | None = None,
) -> KnownError:  # fmt: skip
    """Stop offering the workaround (it proved harmful or wrong): no longer matched."""
    known_error = _lock(known_error, expected_version)
    permissions.require_investigator(actor, "withdraw workarounds")
    if not known_error.is_published:
        return known_error
    known_error.audience = Audience.UNPUBLISHED
    _save(known_error, "audience")
    search.reindex(known_error)
    append_event(known_error, "workaround_withdrawn", actor=actor, payload={"reason": reason})
    return known_error


# ---- life cycle --------------------------------------------------------------------------


def start_fix(known_error: KnownError, *, actor: User | None, fix_project: Any = None) -> None:
    """Move a locked known error to "fix in progress" (fix projects call this)."""
    if known_error.status == Status.FIX_IN_PROGRESS:
        return
    status_from = known_error.status
    transitions.check(status_from, Status.FIX_IN_PROGRESS)
    known_error.status = Status.FIX_IN_PROGRESS
    _save(known_error, "status")
    _status_event(known_error, "fix_started", actor=actor, status_from=status_from,
                  fix_project=fix_project)  # fmt: skip


def mark_fixed(known_error: KnownError, *, actor: User | None, fix_project: Any = None) -> None:
    if known_error.status == Status.FIXED:
        return
    if known_error.status in (Status.OPEN, Status.ACCEPTED):
        start_fix(known_error, actor=actor, fix_project=fix_project)
    status_from = known_error.status
    transitions.check(status_from, Status.FIXED)
    known_error.status, known_error.fixed_at = Status.FIXED, clock.now()
    _save(known_error, "status", "fixed_at")
    _status_event(known_error, "fixed", actor=actor, status_from=status_from,
                  fix_project=fix_project)  # fmt: skip


@transaction.atomic
def do_set_status(
    *, known_error: KnownError | int, actor: User | None, status: str, reason: str = "",
    expected_version: int | None = None,
) -> KnownError:  # fmt: skip
    """Move through the life cycle by hand: "fix_in_progress", "fixed", "accepted"
    (live with it: needs a reason) or back to "open". Closing is
    :func:`do_close_known_error`."""
    known_error = _lock(known_error, expected_version)
    permissions.require_investigator(actor, "change known errors")
    if status == Status.CLOSED:
        raise FieldError("status", "use the close action to close a known error")
    if status not in Status.values:
        raise FieldError("status", f"must be one of: {', '.join(Status.values)}")
    if status == Status.FIX_IN_PROGRESS:
        start_fix(known_error, actor=actor)
    elif status == Status.FIXED:
        transitions.check(known_error.status, Status.FIXED)
        mark_fixed(known_error, actor=actor)
    else:
        transitions.check(known_error.status, status)
        if status == Status.ACCEPTED and not reason.strip():
            raise FieldError("reason", "say why the error is accepted without a fix")
        status_from = known_error.status
        known_error.status = status
        if status == Status.ACCEPTED:
            known_error.accepted_reason = reason.strip()
        _save(known_error, "status", "accepted_reason")
        _status_event(
            known_error, "accepted" if status == Status.ACCEPTED else "status_changed",
            actor=actor, status_from=status_from, reason=reason,
        )  # fmt: skip
    return known_error


def _open_incidents(known_error: KnownError) -> list[Incident]:
    """Open incidents caused by the known error: applied to it, or linked to its problem."""
    ids = set(
        known_error.incident_links.filter(incident__status__in=OPEN_INCIDENTS).values_list(
            "incident_id", flat=True
        )
    )
    if known_error.problem_id is not None:
        ids |= set(
            ProblemIncident.objects.filter(
                problem_id=known_error.problem_id, incident__status__in=OPEN_INCIDENTS
            ).values_list("incident_id", flat=True)
        )
    return list(Incident.objects.filter(pk__in=ids).order_by("pk"))


@transaction.atomic
def do_close_known_error(
    *, known_error: KnownError | int, actor: User | None, reason: str = "",
    close_problem: bool = False, expected_version: int | None = None,
) -> KnownError:  # fmt: skip
    """Close the known error (normally once its fix is implemented). It is no
    longer matched; each linked open incident gets a ``known_error_closed``
    event (communications tells its people). With ``close_problem`` the
    problem is resolved (if needed) and closed too."""
    known_error = _lock(known_error, expected_version)
    permissions.require_investigator(actor, "close known errors")
    transitions.check(known_error.status, Status.CLOSED)
    if known_error.status not in (Status.FIXED, Status.ACCEPTED) and not reason.strip():
        raise FieldError("reason", "say why a known error without a fix is closed")
    status_from = known_error.status
    known_error.status, known_error.closed_at = Status.CLOSED, clock.now()
    _save(known_error, "status", "closed_at")
    search.reindex(known_error)
    outcomes: dict[str, str] = {Status.FIXED: "fixed", Status.ACCEPTED: "accepted"}
    outcome = outcomes.get(status_from, "withdrawn")
    change_refs = sorted(
        set(
            known_error.fix_projects.filter(status=FixStatus.IMPLEMENTED)
            .exclude(change_ref="")
            .values_list("change_ref", flat=True)
        )
    )
    incidents = _open_incidents(known_error)
    for incident in incidents:
        incident_services.append_event(
            incident, "known_error_closed", actor=actor,
            payload={"known_error": ref(known_error), "outcome": outcome,
                     "permanent_fix": known_error.permanent_fix, "change_refs": change_refs},
        )  # fmt: skip
    problem_closed = False
    if close_problem and known_error.problem_id is not None:
        problem_closed = _close_problem(known_error, actor=actor, outcome=outcome)
    append_event(
        known_error, "closed", actor=actor,
        payload={"status_from": status_from, "reason": reason, "incidents_told": len(incidents),
                 "problem_closed": problem_closed},
    )  # fmt: skip
    return known_error


def _close_problem(known_error: KnownError, *, actor: User | None, outcome: str) -> bool:
    from servicedesk.problems import services as problem_services
    from servicedesk.problems.models import Status as ProblemStatus

    problem = known_error.problem
    assert problem is not None
    if problem.status == ProblemStatus.CLOSED:
        return False
    if problem.status == ProblemStatus.ROOT_CAUSE_KNOWN:
        resolution = known_error.permanent_fix or f"{known_error.number} closed ({outcome})."
        problem_services.do_resolve(problem=problem.pk, actor=actor, resolution=resolution)
    problem_services.do_close(
        problem=problem.pk, actor=actor, reason=f"{known_error.number} closed ({outcome})."
    )
    return True


# ---- applying a workaround to an incident ----------------------------------------------


@transaction.atomic
def do_apply_workaround(
    *, incident: Incident | int, known_error: KnownError | int, actor: User | None,
    resolve: bool = True, resolution: str = "", match: dict[str, Any] | None = None,
) -> KnownErrorIncident:  # fmt: skip
    """The 1st line's canned solution: link the incident to the known error (the
    link feeds Table 3's "incidents caused by known errors"), record it on the
    incident's timeline and, with ``resolve``, resolve the incident with the
    code "known_error". An incident not yet linked to a problem is linked to
    the known error's problem."""
    incident_id = incident.pk if isinstance(incident, Incident) else incident
    incident_obj = Incident.objects.select_for_update(of=("self",)).filter(pk=incident_id).first()
    if incident_obj is None:
        raise NotFound(f"Incident {incident_id} does not exist.")
    if actor is not None and not account_permissions.can_work_incident(actor, incident_obj):
        raise PermissionDenied("You may not work on this incident: it belongs to another group.")
    known_error = _lock(known_error)
    if not known_error.is_matchable:
        raise Conflict(
            f"{known_error.number} has no published workaround to apply.",
            status=known_error.status, allowed=[],
        )  # fmt: skip
    if resolve and incident_obj.status not in OPEN_INCIDENTS:
        raise Conflict(
            f"{incident_obj.number} is {incident_obj.status}; only open incidents are resolved.",
            status=incident_obj.status, allowed=[],
        )  # fmt: skip
    link, created = KnownErrorIncident.objects.get_or_create(
        known_error=known_error, incident=incident_obj,
        defaults={"applied_at": clock.now(), "applied_by": actor, "resolved": resolve,
                  "match": match or {}},
    )  # fmt: skip
    if not created and link.resolved and resolve:
        raise Conflict(f"{known_error.number} was already applied to {incident_obj.number}.")
    if not created and resolve:
        link.resolved = True
        link.save(update_fields=["resolved"])
    incident_services.append_event(
        incident_obj, "known_error_applied", actor=actor,
        payload={"known_error": ref(known_error), "workaround": known_error.workaround,
                 "resolved": resolve, "score": (match or {}).get("score")},
    )  # fmt: skip
    append_event(
        known_error, "workaround_applied", actor=actor,
        payload={"incident": ref(incident_obj), "resolved": resolve},
    )  # fmt: skip
    problem = known_error.problem
    if (
        problem is not None
        and problem.status != "closed"
        and not ProblemIncident.objects.filter(incident=incident_obj).exists()
    ):
        from servicedesk.problems import services as problem_services

        problem_services.do_link_incident(problem=problem.pk, incident=incident_obj, actor=actor)
    if resolve:
        incident_services.do_resolve(
            incident=incident_obj.pk, actor=actor, resolution_code=ResolutionCode.KNOWN_ERROR,
            resolution=resolution.strip() or f"{known_error.number}: {known_error.workaround}"[:5000],
        )  # fmt: skip
    return link
