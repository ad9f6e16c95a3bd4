"""The verbs of on-call: keeping schedules, overrides, iCal import, paging and
acknowledging. Each runs in one transaction and checks the actor's permission
(``actor=None`` is the system: escalation steps, the worker)."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F

from servicedesk.accounts.models import Role, SupportGroup, User
from servicedesk.core import clock, locking, scheduling
from servicedesk.core.digests import secret_digest
from servicedesk.core.errors import Conflict, FieldError, NotFound, PermissionDenied
from servicedesk.core.lookups import one
from servicedesk.escalation.calendars import Calendar, CalendarError, zone
from servicedesk.incidents.events import ref
from servicedesk.incidents.models import Incident
from servicedesk.incidents.services import append_event

from . import (
    events,  # noqa: F401  (registers the page event types)
    ical,
    selectors,
)
from .models import (
    OnCallLayer,
    OnCallMember,
    OnCallOverride,
    OnCallSchedule,
    Page,
    PageAttempt,
    PageState,
    RotationKind,
)

PAGE_TIMEOUT_KIND = "oncall.page_timeout"
MAX_LAYERS = 10
MAX_MEMBERS = 100


def page_key(page_id: int) -> str:
    return f"oncall:page:{page_id}"


# ---- permissions --------------------------------------------------------------------------


def is_admin(user: User) -> bool:
    return user.is_superuser or user.role == Role.ADMIN


def can_keep(user: User | None, group: SupportGroup) -> bool:
    """The group's manager keeps its schedule (SPEC 7); administrators may too."""
    return (
        user is None
        or is_admin(user)
        or (group.manager_id is not None and group.manager_id == user.pk)
    )


def _require_keep(actor: User | None, group: SupportGroup) -> None:
    if not can_keep(actor, group):
        raise PermissionDenied(
            f"Only the manager of {group} or an administrator keeps its schedule."
        )


# ---- schedules ----------------------------------------------------------------------------------


@dataclass
class LayerInput:
    name: str
    members: list[User]
    rotation: str = RotationKind.WEEKLY
    starts_on: date | None = None
    handoff_time: time = time(9, 0)
    shift_length: int | None = None
    restriction: dict[str, Any] = field(default_factory=dict)


def _check_layers(layers: list[LayerInput], time_zone: str) -> None:
    if len(layers) > MAX_LAYERS:
        raise FieldError("layers", f"at most {MAX_LAYERS} layers")
    for i, layer in enumerate(layers):
        where = ["body", "layers", str(i)]
        if layer.rotation not in RotationKind.values:
            raise FieldError([*where, "rotation"], "must be daily, weekly or custom")
        if layer.rotation == RotationKind.CUSTOM and (layer.shift_length or 0) < 3600:
            raise FieldError(
                [*where, "shift_length"],
                "a custom rotation's shifts last at least an hour (3600 seconds)",
            )
        if len(layer.members) > MAX_MEMBERS:
            raise FieldError([*where, "members"], f"at most {MAX_MEMBERS} members")
        for person in layer.members:
            if not person.is_active or not (person.is_support_staff or person.is_superuser):
                raise FieldError([*where, "members"], f"{person} is not active support staff")
        if layer.restriction:
            try:
                Calendar.business_hours(layer.restriction, time_zone=time_zone)
            except CalendarError as exc:
                raise FieldError([*where, "restriction"], str(exc)) from None


def _check_zone(time_zone: str) -> None:
    try:
        zone(time_zone)
    except CalendarError as exc:
        raise FieldError("time_zone", str(exc)) from None


def _write_layers(schedule: OnCallSchedule, layers: list[LayerInput]) -> None:
    """Layers are kept by position (so overrides of a kept layer stay); layers
    past the new count are removed with their overrides."""
    existing = {row.position: row for row in OnCallLayer.objects.filter(schedule=schedule)}
    OnCallLayer.objects.filter(schedule=schedule, position__gt=len(layers)).delete()
    today = clock.now().astimezone(zone(schedule.time_zone)).date()
    for position, layer in enumerate(layers, start=1):
        row = existing.get(position) or OnCallLayer(schedule=schedule, position=position)
        row.name, row.rotation, row.handoff_time = layer.name, layer.rotation, layer.handoff_time
        row.shift_length = layer.shift_length if layer.rotation == RotationKind.CUSTOM else None
        row.starts_on = layer.starts_on or row.starts_on or today
        row.restriction = layer.restriction or {}
        row.save()
        OnCallMember.objects.filter(layer=row).delete()
        OnCallMember.objects.bulk_create(
            OnCallMember(layer=row, user=person, position=i)
            for i, person in enumerate(layer.members, start=1)
        )


@transaction.atomic
def do_create_schedule(
    *, actor: User | None, group: SupportGroup, name: str = "", time_zone: str = "UTC",
    description: str = "", layers: list[LayerInput] | None = None,
) -> OnCallSchedule:  # fmt: skip
    """Create the group's schedule (one per group)."""
    _require_keep(actor, group)
    _check_zone(time_zone)
    _check_layers(layers or [], time_zone)
    if OnCallSchedule.objects.filter(group=group).exists():
        raise Conflict(f"{group} already has an on-call schedule.")
    schedule = OnCallSchedule.objects.create(
        group=group, name=name or f"{group} on call", time_zone=time_zone, description=description
    )
    _write_layers(schedule, layers or [])
    return schedule


def lock_schedule(
    schedule: OnCallSchedule | int, expected_version: int | None = None
) -> OnCallSchedule:
    pk = schedule.pk if isinstance(schedule, OnCallSchedule) else schedule
    locked = locking.lock_one(OnCallSchedule.objects.all(), pk, ("group",))
    if locked is None:
        raise NotFound(f"On-call schedule {pk} does not exist.")
    if expected_version is not None and locked.version != expected_version:
        from servicedesk.core.errors import PreconditionFailed

        raise PreconditionFailed(
            "The schedule was changed by someone else; reload it and try again."
        )
    return locked


@transaction.atomic
def do_update_schedule(
    *, actor: User | None, schedule: OnCallSchedule | int, name: str, time_zone: str,
    description: str = "", layers: list[LayerInput], expected_version: int | None = None,
) -> OnCallSchedule:  # fmt: skip
    """Replace the schedule's settings and layers (overrides stay)."""
    schedule = lock_schedule(schedule, expected_version)
    _require_keep(actor, schedule.group)
    _check_zone(time_zone)
    _check_layers(layers, time_zone)
    schedule.name, schedule.time_zone, schedule.description = name, time_zone, description
    schedule.version += 1
    schedule.save()
    _write_layers(schedule, layers)
    return schedule


@transaction.atomic
def do_delete_schedule(*, actor: User | None, schedule: OnCallSchedule | int) -> None:
    schedule = lock_schedule(schedule)
    _require_keep(actor, schedule.group)
    schedule.delete()


@transaction.atomic
def do_add_override(
    *, actor: User | None, schedule: OnCallSchedule | int, person: User, starts_at: datetime,
    ends_at: datetime, layer: OnCallLayer | None = None, reason: str = "",
) -> OnCallOverride:  # fmt: skip
    """Someone covers a layer (the first when none is given) for a period."""
    schedule = lock_schedule(schedule)
    _require_keep(actor, schedule.group)
    if ends_at <= starts_at:
        raise FieldError("ends_at", "must be after starts_at")
    if not person.is_active or not (person.is_support_staff or person.is_superuser):
        raise FieldError("person", "must be active support staff")
    if layer is not None and layer.schedule_id != schedule.pk:
        raise FieldError("layer", "is not a layer of this schedule")
    override = OnCallOverride.objects.create(
        schedule=schedule, layer=layer, person=person, starts_at=starts_at, ends_at=ends_at,
        reason=reason,
    )  # fmt: skip
    OnCallSchedule.objects.filter(pk=schedule.pk).update(version=F("version") + 1)
    return override


@transaction.atomic
def do_delete_override(*, actor: User | None, override: OnCallOverride) -> None:
    schedule = lock_schedule(override.schedule_id)
    _require_keep(actor, schedule.group)
    override.delete()
    OnCallSchedule.objects.filter(pk=schedule.pk).update(version=F("version") + 1)


@dataclass
class ImportResult:
    imported: int
    removed: int
    skipped: list[dict[str, str]]


@transaction.atomic
def do_import_ical(
    *, actor: User | None, schedule: OnCallSchedule | int, content: bytes
) -> ImportResult:
    """Import an iCal feed's shifts as overrides of the first layer; a re-import
    replaces the previous import. Each event names its person by an attendee's
    e-mail, ``X-SERVICEDESK-USER`` or a summary naming a user."""
    schedule = lock_schedule(schedule)
    _require_keep(actor, schedule.group)
    now = clock.now()
    try:
        shifts, skipped = ical.parse(content, time_zone=schedule.time_zone, now=now)
    except ical.FeedError as exc:
        raise FieldError(["body"], str(exc)) from None
    rows: list[OnCallOverride] = []
    for shift in shifts:
        person = ical.match_person(shift, group=schedule.group)
        if person is None:
            skipped.append({"uid": shift.uid, "reason": f"no active user matches {shift.who()!r}"})
            continue
        rows.append(OnCallOverride(
            schedule=schedule, person=person, starts_at=shift.start, ends_at=shift.end,
            reason=(shift.summary or "imported from iCal")[:200], ical_uid=shift.uid[:255],
        ))  # fmt: skip
    removed, _ = OnCallOverride.objects.filter(schedule=schedule).exclude(ical_uid="").delete()
    OnCallOverride.objects.bulk_create(rows)
    OnCallSchedule.objects.filter(pk=schedule.pk).update(version=F("version") + 1)
    return ImportResult(imported=len(rows), removed=removed, skipped=skipped)


# ---- calendar subscription ---------------------------------------------------------------------


@transaction.atomic
def do_new_feed_key(*, actor: User | None, schedule: OnCallSchedule | int) -> str:
    """A new secret for the schedule's calendar feed (returned once, stored as a
    digest); the previous one stops working."""
    schedule = lock_schedule(schedule)
    _require_keep(actor, schedule.group)
    key = secrets.token_urlsafe(32)
    OnCallSchedule.objects.filter(pk=schedule.pk).update(feed_key_digest=secret_digest(key))
    return key


@transaction.atomic
def do_disable_feed(*, actor: User | None, schedule: OnCallSchedule | int) -> None:
    schedule = lock_schedule(schedule)
    _require_keep(actor, schedule.group)
    OnCallSchedule.objects.filter(pk=schedule.pk).update(feed_key_digest="")


def schedule_for_feed(pk: int, key: str) -> OnCallSchedule | None:
    """The schedule whose feed ``key`` opens, or None (wrong key, no feed)."""
    schedule = OnCallSchedule.objects.filter(pk=pk).exclude(feed_key_digest="").first()
    if schedule is None or not key:
        return None
    if not hmac.compare_digest(schedule.feed_key_digest, secret_digest(key)):
        return None
    return schedule


# ---- paging --------------------------------------------------------------------------------------


def _page_event(page: Page, incident: Incident) -> None:
    append_event(
        incident, "paged", actor=None,
        payload={"page_id": page.pk, "group": ref(page.group), "person": ref(page.person),
                 "attempt": page.attempt, "ack_by": page.ack_by.isoformat() if page.ack_by else ""},
    )  # fmt: skip


def _next_responder(page: Page) -> User | None:
    """The next active responder after the current attempt, or None."""
    remaining = page.responders[page.attempt :]
    users = User.objects.in_bulk(remaining)
    for index, user_id in enumerate(remaining):
        user = users.get(user_id)
        if user is not None and user.is_active:
            page.attempt += index + 1
            return user
    page.attempt = len(page.responders)
    return None


def _send_attempt(
    page: Page, incident: Incident, person: User, now: datetime, *, timer: bool = True
) -> None:
    """Page ``person``; ``timer=False`` when the worker performing the page's own
    timer moves it."""
    page.person = person
    page.ack_by = now + timedelta(seconds=page.ack_within)
    page.save()
    PageAttempt.objects.create(
        page=page, number=page.attempt, person=person, at=now, ack_by=page.ack_by
    )
    _page_event(page, incident)
    if timer:
        scheduling.schedule(
            key=page_key(page.pk), kind=PAGE_TIMEOUT_KIND, at=page.ack_by, payload={"page": page.pk}
        )


def _exhaust(
    page: Page, incident: Incident, now: datetime, reason: str, *, timer: bool = True
) -> None:
    page.state, page.ended_at = PageState.EXHAUSTED, now
    page.save()
    if timer:
        scheduling.cancel(page_key(page.pk))
    append_event(
        incident, "page_exhausted", actor=None,
        payload={"page_id": page.pk, "group": ref(page.group), "attempts": page.attempt,
                 "reason": reason},
    )  # fmt: skip


@transaction.atomic
def do_page(
    *, incident: Incident, group: SupportGroup, actor: User | None, ack_within: int,
    reason: str = "",
) -> Page:  # fmt: skip
    """Page the group's on-call person for the incident; if nobody acknowledges
    within ``ack_within`` seconds, the next responder is paged, and so on to
    the group's manager. The page itself is a record and a ``paged`` event: the
    communications capability delivers it."""
    if actor is not None and not (actor.is_support_staff or actor.is_superuser):
        raise PermissionDenied("Only support staff may page.")
    if ack_within < 30:
        raise FieldError("ack_within", "allow at least 30 seconds to acknowledge")
    if not incident.is_open:
        raise Conflict(
            f"The incident is {incident.status}; nobody needs to be paged.",
            status=incident.status,
            allowed=[],
        )
    now = clock.now()
    order = [r.person.pk for r in selectors.responders(group, now)]
    page = Page.objects.create(
        incident=incident, group=group, responders=order, ack_within=ack_within,
        reason=reason[:200], created_at=now,
    )  # fmt: skip
    person = _next_responder(page)
    if person is None:
        _exhaust(page, incident, now, "nobody is on call and the group has no manager")
    else:
        _send_attempt(page, incident, person, now)
    return page


def page_timeout(page_id: int) -> tuple[str, datetime | None]:
    """The worker: nobody acknowledged in time, page the next responder.
    Returns what happened and when to look again (None: the page is over)."""
    page = one(
        Page.objects.select_for_update().select_related("incident", "group").filter(pk=page_id)
    )
    if page is None or page.state != PageState.PAGING:
        return "skipped", None
    now = clock.now()
    person = _next_responder(page)
    if person is None:
        _exhaust(page, page.incident, now, f"nobody acknowledged {page.attempt} pages", timer=False)
        return "exhausted", None
    _send_attempt(page, page.incident, person, now, timer=False)
    return f"paged {person} (attempt {page.attempt})", page.ack_by


def can_acknowledge(user: User, page: Page) -> bool:
    return (
        is_admin(user)
        or user.pk in page.responders
        or page.group.manager_id == user.pk
        or page.group.members.filter(pk=user.pk).exists()
    )


@transaction.atomic
def do_acknowledge(*, page: Page | int, actor: User) -> Page:
    """The responder has it: no further pages for this step."""
    pk = page.pk if isinstance(page, Page) else page
    locked = one(
        Page.objects.select_for_update(of=("self",))
        .select_related("incident", "group")
        .filter(pk=pk)
    )
    if locked is None:
        raise NotFound(f"Page {pk} does not exist.")
    if not can_acknowledge(actor, locked):
        raise PermissionDenied("Only the group's responders may acknowledge this page.")
    if locked.state == PageState.ACKNOWLEDGED:
        return locked
    if locked.state != PageState.PAGING:
        raise Conflict(
            f"The page is {locked.state}; there is nothing to acknowledge.",
            status=locked.state,
            allowed=[],
        )
    now = clock.now()
    locked.state, locked.acknowledged_at, locked.acknowledged_by, locked.ended_at = (
        PageState.ACKNOWLEDGED, now, actor, now,
    )  # fmt: skip
    locked.save()
    scheduling.cancel(page_key(locked.pk))
    append_event(
        locked.incident, "page_acknowledged", actor=actor,
        payload={"page_id": locked.pk, "person": ref(actor), "group": ref(locked.group),
                 "attempt": locked.attempt},
    )  # fmt: skip
    return locked


def cancel_pages(incident: Incident) -> int:
    """The incident is resolved, cancelled or closed: stop paging for it."""
    now = clock.now()
    pages = list(Page.objects.select_for_update().filter(incident=incident, state=PageState.PAGING))
    for page in pages:
        page.state, page.ended_at = PageState.CANCELLED, now
        page.save(update_fields=["state", "ended_at"])
        scheduling.cancel(page_key(page.pk))
    return len(pages)
