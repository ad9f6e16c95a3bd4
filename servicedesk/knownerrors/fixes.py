"""Fix projects: the permanent removal of known errors, and their prioritised list.

Status: proposed -> approved -> in progress -> implemented, or cancelled
before implementation. Starting one puts its known error in "fix in
progress"; implementing it marks the known error fixed (then it and its
problem can be closed, ``services.do_close_known_error``).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.db import transaction

from servicedesk.accounts.models import SupportGroup, User
from servicedesk.core import clock
from servicedesk.core import events as bus
from servicedesk.core.errors import FieldError, NotFound, PreconditionFailed
from servicedesk.core.lookups import resolve
from servicedesk.incidents.events import ref
from servicedesk.problems import permissions

from . import events, transitions
from .models import FixProject, FixProjectEvent, FixStatus, KnownError, Status
from .services import _lock as _lock_known_error
from .services import _save as _save_known_error
from .services import _status_event, mark_fixed, start_fix

EDITABLE_VALUES = ("title", "description", "priority", "planned_start", "planned_end",
                   "cost_estimate", "actual_cost", "change_ref")  # fmt: skip
EDITABLE_REFERENCES: dict[str, type] = {"owner": User, "group": SupportGroup}
ACTIVE = (FixStatus.PROPOSED, FixStatus.APPROVED, FixStatus.IN_PROGRESS)


def _lock(fix: FixProject | int, expected_version: int | None = None) -> FixProject:
    pk = fix.pk if isinstance(fix, FixProject) else fix
    locked = FixProject.objects.select_for_update(of=("self",)).filter(pk=pk).first()
    if locked is None:
        raise NotFound(f"Fix project {pk} does not exist.")
    if expected_version is not None and locked.version != expected_version:
        raise PreconditionFailed(
            "The fix project was changed by someone else; reload it and try again.",
            current_version=locked.version,
        )
    return locked


def _save(fix: FixProject, *fields: str) -> None:
    fix.version += 1
    fix.updated_at = clock.now()
    fix.save(update_fields=[*fields, "version", "updated_at"])


def append_event(
    fix: FixProject, event_type: str, *, actor: User | None, payload: dict[str, Any]
) -> FixProjectEvent:
    event = FixProjectEvent.objects.create(
        fix_project=fix, type=event_type, actor=actor, at=clock.now(),
        payload=events.validate(events.FIX_PROJECT_EVENTS, event_type, payload),
    )  # fmt: skip
    bus.publish("fix_project", event)
    return event


def _check_dates(start: date | None, end: date | None, field: str) -> None:
    if start and end and end < start:
        raise FieldError(field, "must not be before the start")


@transaction.atomic
def do_create_fix_project(
    *, actor: User | None, known_error: KnownError | int, title: str, description: str = "",
    priority: int = 3, owner: User | None = None, group: SupportGroup | None = None,
    planned_start: date | None = None, planned_end: date | None = None,
    cost_estimate: Decimal | int = 0, change_ref: str = "",
) -> FixProject:  # fmt: skip
    """Propose a fix project for a known error (one known error may have several)."""
    permissions.require_investigator(actor, "propose fix projects")
    if not title.strip():
        raise FieldError("title", "must not be empty")
    if not 1 <= priority <= 5:
        raise FieldError("priority", "must be between 1 and 5")
    _check_dates(planned_start, planned_end, "planned_end")
    if Decimal(cost_estimate) < 0:
        raise FieldError("cost_estimate", "must not be negative")
    ke = _lock_known_error(known_error)
    if ke.status == Status.CLOSED:
        raise FieldError("known_error", f"{ke.number} is closed")
    now = clock.now()
    fix = FixProject.objects.create(
        known_error=ke, title=title.strip(), description=description, priority=priority,
        owner=owner, group=group, planned_start=planned_start, planned_end=planned_end,
        cost_estimate=Decimal(cost_estimate), change_ref=change_ref.strip(), created_by=actor,
        created_at=now, updated_at=now,
    )  # fmt: skip
    append_event(
        fix, "created", actor=actor,
        payload={"status": fix.status, "priority": priority, "known_error": ref(ke)},
    )  # fmt: skip
    return fix


@transaction.atomic
def do_update_fix_project(
    *, fix_project: FixProject | int, actor: User | None, changes: dict[str, Any],
    expected_version: int | None = None,
) -> FixProject:  # fmt: skip
    fix = _lock(fix_project, expected_version)
    permissions.require_investigator(actor, "edit fix projects")
    unknown = set(changes) - set(EDITABLE_VALUES) - set(EDITABLE_REFERENCES)
    if unknown:
        raise FieldError(sorted(unknown)[0], "this field cannot be changed here")
    diff: dict[str, dict[str, Any]] = {}
    fields: list[str] = []
    for field, value in changes.items():
        if field in EDITABLE_REFERENCES:
            value = resolve(EDITABLE_REFERENCES[field], value, field)
        elif field in ("cost_estimate", "actual_cost") and value is not None:
            value = Decimal(value)
            if value < 0:
                raise FieldError(field, "must not be negative")
        elif field in ("title", "priority", "cost_estimate") and value is None:
            raise FieldError(field, "must not be null")
        elif field in ("description", "change_ref") and value is None:
            value = ""
        elif isinstance(value, str):
            value = value.strip()
        if field == "title" and not value:
            raise FieldError("title", "must not be empty")
        if field == "priority" and not 1 <= value <= 5:
            raise FieldError("priority", "must be between 1 and 5")
        old = getattr(fix, field)
        if old != value:
            setattr(fix, field, value)
            diff[field] = {"from": _plain(old), "to": _plain(value)}
            fields.append(field)
    _check_dates(fix.planned_start, fix.planned_end, "planned_end")
    if not diff:
        return fix
    _save(fix, *fields)
    append_event(fix, "updated", actor=actor, payload={"changes": diff})
    return fix


def _plain(value: Any) -> Any:
    if isinstance(value, date | Decimal):
        return str(value)
    if hasattr(value, "pk"):
        return ref(value)
    return value


@transaction.atomic
def do_change_fix_status(
    *, fix_project: FixProject | int, actor: User | None, status: str, reason: str = "",
    actual_cost: Decimal | None = None, change_ref: str | None = None,
    expected_version: int | None = None,
) -> FixProject:  # fmt: skip
    """Approve, start, implement or cancel. Approving and cancelling are the
    portfolio's decisions (problem managers and managers)."""
    if status not in FixStatus.values:
        raise FieldError("status", f"must be one of: {', '.join(FixStatus.values)}")
    fix = _lock(fix_project, expected_version)
    if status in (FixStatus.APPROVED, FixStatus.CANCELLED):
        permissions.require_manager(actor, "approve or cancel fix projects")
    else:
        permissions.require_investigator(actor, "work on fix projects")
    transitions.check_fix(fix.status, status)
    if status == FixStatus.CANCELLED and not reason.strip():
        raise FieldError("reason", "say why the fix project is cancelled")
    ke = _lock_known_error(fix.known_error_id)
    status_from = fix.status
    fix.status = status
    today = clock.now().date()
    fields = ["status"]
    if status == FixStatus.IN_PROGRESS and fix.actual_start is None:
        fix.actual_start = today
        fields.append("actual_start")
    if status == FixStatus.IMPLEMENTED:
        fix.actual_end = fix.actual_end or today
        fields.append("actual_end")
    if status == FixStatus.CANCELLED:
        fix.cancel_reason = reason.strip()
        fields.append("cancel_reason")
    if actual_cost is not None:
        if actual_cost < 0:
            raise FieldError("actual_cost", "must not be negative")
        fix.actual_cost = actual_cost
        fields.append("actual_cost")
    if change_ref is not None:
        fix.change_ref = change_ref.strip()
        fields.append("change_ref")
    _save(fix, *fields)
    append_event(
        fix, "status_changed", actor=actor,
        payload={"status_from": status_from, "status_to": status, "known_error": ref(ke),
                 "reason": reason},
    )  # fmt: skip
    if ke.status != Status.CLOSED:
        if status == FixStatus.IN_PROGRESS and ke.status != Status.FIXED:
            start_fix(ke, actor=actor, fix_project=fix)
        elif status == FixStatus.IMPLEMENTED:
            mark_fixed(ke, actor=actor, fix_project=fix)
        elif status == FixStatus.CANCELLED and ke.status == Status.FIX_IN_PROGRESS:
            still_running = ke.fix_projects.filter(status=FixStatus.IN_PROGRESS).exclude(pk=fix.pk)
            if not still_running.exists():
                ke.status = Status.OPEN
                _save_known_error(ke, "status")
                _status_event(ke, "status_changed", actor=actor,
                              status_from=Status.FIX_IN_PROGRESS, reason=reason, fix_project=fix)  # fmt: skip
    return fix
