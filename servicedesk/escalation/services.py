"""The verbs of the escalation matrix: policies and business calendars.

Administrators keep them (API, admin). A running incident follows the snapshot
of its policy taken when it started (engine.py), so editing the matrix changes
new incidents and incidents whose severity or scope changes afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db import transaction

from servicedesk.accounts.models import Role, User
from servicedesk.core.errors import (
    Conflict,
    FieldError,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
)
from servicedesk.incidents.severity import valid_severities

from . import calendars
from .models import (
    SCOPE_FIELDS,
    BusinessCalendar,
    CalendarKind,
    EscalationPolicy,
    Offsets,
    PolicyStep,
    Scope,
    StepKind,
)

MAX_DURATION = 366 * 86400
MAX_STEPS = 20
DEFAULT_CALENDAR = "24x7"


def require_admin(actor: User | None, what: str = "edit the escalation matrix") -> None:
    if actor is not None and not (actor.is_superuser or actor.role == Role.ADMIN):
        raise PermissionDenied(f"Only administrators may {what}.")


# ---- calendars ----------------------------------------------------------------------------


@dataclass
class CalendarInput:
    name: str
    kind: str = CalendarKind.ALWAYS
    time_zone: str = "UTC"
    hours: dict[str, list[list[str]]] = field(default_factory=dict)
    country: str = ""
    subdivision: str = ""
    extra_holidays: list[date] = field(default_factory=list)
    extra_workdays: list[date] = field(default_factory=list)
    description: str = ""


def _apply_calendar(row: BusinessCalendar, data: CalendarInput) -> None:
    row.name, row.kind, row.time_zone = data.name.strip(), data.kind, data.time_zone
    row.hours = data.hours if data.kind == CalendarKind.BUSINESS_HOURS else {}
    row.country, row.subdivision = data.country.upper(), data.subdivision
    row.extra_holidays = sorted(d.isoformat() for d in data.extra_holidays)
    row.extra_workdays = sorted(d.isoformat() for d in data.extra_workdays)
    row.description = data.description
    try:
        row.spec()
    except calendars.CalendarError as exc:
        message = str(exc)
        where = (
            "time_zone"
            if "time zone" in message
            else "country"
            if "holiday" in message
            else "hours"
        )
        raise FieldError(where, message) from None
    if BusinessCalendar.objects.filter(name=row.name).exclude(pk=row.pk).exists():
        raise FieldError("name", "a calendar with this name exists")


@transaction.atomic
def do_create_calendar(*, actor: User | None, data: CalendarInput) -> BusinessCalendar:
    require_admin(actor, "edit business calendars")
    row = BusinessCalendar()
    _apply_calendar(row, data)
    row.save()
    return row


@transaction.atomic
def do_update_calendar(
    *, actor: User | None, calendar: BusinessCalendar, data: CalendarInput
) -> BusinessCalendar:
    """Change a calendar; running incidents keep the one they started with."""
    require_admin(actor, "edit business calendars")
    row = BusinessCalendar.objects.select_for_update().get(pk=calendar.pk)
    _apply_calendar(row, data)
    row.save()
    return row


@transaction.atomic
def do_delete_calendar(*, actor: User | None, calendar: BusinessCalendar) -> None:
    require_admin(actor, "edit business calendars")
    if calendar.policies.exists():
        raise Conflict("Policies use this calendar; change them first.")
    calendar.delete()


def default_calendar() -> BusinessCalendar:
    row = BusinessCalendar.objects.filter(kind=CalendarKind.ALWAYS).order_by("pk").first()
    if row is None:
        row = BusinessCalendar.objects.create(name=DEFAULT_CALENDAR, kind=CalendarKind.ALWAYS)
    return row


# ---- policies ------------------------------------------------------------------------------


@dataclass
class StepInput:
    kind: str
    support_level: int | None = None
    after: int = 0
    ack_within: int | None = None
    starts_in: int | None = None
    bridge: str = ""
    url: str = ""
    secret: str = ""


@dataclass
class PolicyInput:
    name: str
    severity: int
    respond_within: int
    resolve_within: int
    calendar: BusinessCalendar | None = None
    scope: str = Scope.ALL
    target: Any = None  # the CI, service, technology or user group of the scope
    offsets: str = Offsets.PER_STEP
    steps: list[StepInput] = field(default_factory=list)
    active: bool = True
    description: str = ""


def _duration(value: int, where: str | list[str], minimum: int = 0) -> None:
    if not minimum <= value <= MAX_DURATION:
        raise FieldError(where, f"must be between {minimum} and {MAX_DURATION} seconds")


def check_step(step: StepInput, where: list[str]) -> None:
    """Each kind's fields (raises FieldError naming the step's field)."""
    if step.kind not in StepKind.values:
        raise FieldError([*where, "kind"], f"must be one of: {', '.join(StepKind.values)}")
    _duration(step.after, [*where, "after"])
    level = step.support_level
    if level is not None and level not in (1, 2, 3):
        raise FieldError([*where, "support_level"], "must be 1, 2 or 3")
    if step.kind == StepKind.ASSIGN and level is None:
        raise FieldError([*where, "support_level"], "an assign step names the level to reach")
    if (
        step.kind in (StepKind.NOTIFY_MANAGER, StepKind.EMERGENCY_MEETING, StepKind.WEBHOOK)
        and level
    ):
        raise FieldError([*where, "support_level"], f"does not apply to {step.kind} steps")
    if step.ack_within is not None and (
        step.kind != StepKind.PAGE or not 30 <= step.ack_within <= 86400
    ):
        raise FieldError([*where, "ack_within"], "page steps only, 30 to 86400 seconds")
    if step.starts_in is not None and (
        step.kind != StepKind.EMERGENCY_MEETING or not 0 <= step.starts_in <= 7 * 86400
    ):
        raise FieldError([*where, "starts_in"], "emergency meetings only, up to 7 days")
    if step.bridge and step.kind != StepKind.EMERGENCY_MEETING:
        raise FieldError([*where, "bridge"], "emergency meetings only")
    if step.kind == StepKind.WEBHOOK:
        if not step.url.startswith(("http://", "https://")):
            raise FieldError([*where, "url"], "a webhook step needs an http(s) URL")
    elif step.url or step.secret:
        raise FieldError([*where, "url"], "webhook steps only")


def check_policy(data: PolicyInput, *, exclude_pk: int | None = None) -> None:
    if not data.name.strip():
        raise FieldError("name", "must not be empty")
    if data.severity not in valid_severities():
        raise FieldError("severity", f"must be one of {valid_severities()}")
    if data.scope not in Scope.values:
        raise FieldError(
            ["body", "applies_to", "scope"], f"must be one of: {', '.join(Scope.values)}"
        )
    if (data.scope == Scope.ALL) != (data.target is None):
        raise FieldError(
            ["body", "applies_to", "id"], "give the record the policy applies to (none for all)"
        )
    if data.offsets not in Offsets.values:
        raise FieldError("offsets", "must be per_step or from_open")
    _duration(data.respond_within, "respond_within", 1)
    _duration(data.resolve_within, "resolve_within", 1)
    if len(data.steps) > MAX_STEPS:
        raise FieldError("steps", f"at most {MAX_STEPS} steps")
    for i, step in enumerate(data.steps):
        check_step(step, ["body", "steps", str(i)])
    if data.offsets == Offsets.PER_STEP and sum(s.after for s in data.steps) > MAX_DURATION:
        raise FieldError("steps", f"the steps add up to more than {MAX_DURATION} seconds")
    names = EscalationPolicy.objects.filter(name=data.name.strip())
    if exclude_pk is not None:
        names = names.exclude(pk=exclude_pk)
    if names.exists():
        raise FieldError("name", "a policy with this name exists")
    if data.active:
        same = EscalationPolicy.objects.filter(
            active=True, severity=data.severity, scope=data.scope
        )
        if data.scope != Scope.ALL:
            same = same.filter(**{data.scope: data.target})
        if exclude_pk is not None:
            same = same.exclude(pk=exclude_pk)
        clash = same.first()
        if clash is not None:
            raise FieldError(
                ["body", "applies_to"],
                f"the active policy '{clash}' already covers severity {data.severity} here",
            )


def _write_policy(policy: EscalationPolicy, data: PolicyInput) -> EscalationPolicy:
    policy.name, policy.severity, policy.scope = data.name.strip(), data.severity, data.scope
    for name in SCOPE_FIELDS:
        setattr(policy, name, data.target if data.scope == name else None)
    policy.calendar = data.calendar or default_calendar()
    policy.offsets, policy.active, policy.description = data.offsets, data.active, data.description
    policy.respond_within, policy.resolve_within = data.respond_within, data.resolve_within
    policy.save()
    policy.steps.all().delete()
    PolicyStep.objects.bulk_create(
        PolicyStep(
            policy=policy,
            position=i,
            kind=s.kind,
            support_level=s.support_level,
            after=s.after,
            ack_within=s.ack_within,
            starts_in=s.starts_in,
            bridge=s.bridge,
            url=s.url,
            secret=s.secret,
        )
        for i, s in enumerate(data.steps, start=1)
    )
    return policy


@transaction.atomic
def do_create_policy(*, actor: User | None, data: PolicyInput) -> EscalationPolicy:
    """Add a row to the matrix."""
    require_admin(actor)
    check_policy(data)
    return _write_policy(EscalationPolicy(), data)


@transaction.atomic
def do_update_policy(
    *, actor: User | None, policy: EscalationPolicy | int, data: PolicyInput,
    expected_version: int | None = None,
) -> EscalationPolicy:  # fmt: skip
    """Replace a policy (its steps too); running incidents keep their snapshot."""
    require_admin(actor)
    pk = policy.pk if isinstance(policy, EscalationPolicy) else policy
    locked = EscalationPolicy.objects.select_for_update().filter(pk=pk).first()
    if locked is None:
        raise NotFound(f"Escalation policy {pk} does not exist.")
    if expected_version is not None and locked.version != expected_version:
        raise PreconditionFailed("The policy was changed by someone else; reload it and try again.")
    check_policy(data, exclude_pk=locked.pk)
    locked.version += 1
    return _write_policy(locked, data)


@transaction.atomic
def do_delete_policy(*, actor: User | None, policy: EscalationPolicy | int) -> None:
    """Remove a policy; incidents that follow it keep their snapshot."""
    require_admin(actor)
    pk = policy.pk if isinstance(policy, EscalationPolicy) else policy
    deleted, _ = EscalationPolicy.objects.filter(pk=pk).delete()
    if not deleted:
        raise NotFound(f"Escalation policy {pk} does not exist.")
