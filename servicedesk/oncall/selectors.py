"""Read-only queries: who is on call, schedules as pure rotation objects."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from servicedesk.accounts.models import SupportGroup, User

from . import ical, rotation
from .models import OnCallLayer, OnCallMember, OnCallOverride, OnCallSchedule


@dataclass(frozen=True)
class LoadedSchedule:
    """A schedule with its layers (by id) and its rotation data."""

    schedule: OnCallSchedule
    layers: dict[int, OnCallLayer]
    spec: rotation.Schedule


def load_schedules(
    schedules: Iterable[OnCallSchedule], *, start: datetime, end: datetime
) -> dict[int, LoadedSchedule]:
    """Schedules as data (by schedule id), with the overrides that touch
    ``[start, end)``: three queries for any number of schedules. The manager
    is read from ``schedule.group`` (select ``group__manager`` beforehand)."""
    by_id = {s.pk: s for s in schedules}
    layers: dict[int, list[OnCallLayer]] = defaultdict(list)
    for layer in OnCallLayer.objects.filter(schedule_id__in=by_id).order_by(
        "schedule_id", "position"
    ):
        layer.schedule = by_id[layer.schedule_id]
        layers[layer.schedule_id].append(layer)
    members: dict[int, list[int]] = defaultdict(list)
    for layer_id, user_id in (
        OnCallMember.objects.filter(layer__schedule_id__in=by_id, user__is_active=True)
        .order_by("layer_id", "position")
        .values_list("layer_id", "user_id")
    ):
        members[layer_id].append(user_id)
    overrides: dict[int, list[rotation.Override]] = defaultdict(list)
    for schedule_id, person, lo, hi, layer_id in OnCallOverride.objects.filter(
        schedule_id__in=by_id, ends_at__gt=start, starts_at__lte=end, person__is_active=True
    ).values_list("schedule_id", "person_id", "starts_at", "ends_at", "layer_id"):
        overrides[schedule_id].append(rotation.Override(person, lo, hi, layer_id))
    result = {}
    for pk, schedule in by_id.items():
        manager = schedule.group.manager
        spec = rotation.Schedule(
            layers=tuple(layer.spec(members[layer.pk]) for layer in layers[pk]),
            overrides=tuple(overrides[pk]),
            manager=manager.pk if manager is not None and manager.is_active else None,
        )
        result[pk] = LoadedSchedule(schedule, {layer.pk: layer for layer in layers[pk]}, spec)
    return result


def schedule_spec(schedule: OnCallSchedule, *, start: datetime, end: datetime) -> rotation.Schedule:
    """The schedule as data, with the overrides that touch ``[start, end)``."""
    return load_schedules([schedule], start=start, end=end)[schedule.pk].spec


@dataclass(frozen=True)
class ResponderOut:
    person: User
    layer: OnCallLayer | None
    source: str
    until: datetime | None


def responders_by_group(
    groups: Iterable[SupportGroup], at: datetime
) -> dict[int, list[ResponderOut]]:
    """Whom a page to each group reaches at ``at``, in order, by group id; the
    group's manager last (alone when the group keeps no schedule). A fixed
    number of queries for any number of groups (the on-call board)."""
    groups = list(groups)
    schedules = {s.group_id: s for s in OnCallSchedule.objects.filter(group__in=groups)}
    for group in groups:
        if group.pk in schedules:
            schedules[group.pk].group = group
    loaded = load_schedules(schedules.values(), start=at, end=at)
    found: dict[int, list[rotation.Responder]] = {}
    for group in groups:
        schedule = schedules.get(group.pk)
        if schedule is not None:
            found[group.pk] = loaded[schedule.pk].spec.responders(at)
        elif group.manager is not None and group.manager.is_active:
            found[group.pk] = [rotation.Responder(group.manager.pk, None, "manager", None)]
        else:
            found[group.pk] = []
    users = User.objects.in_bulk({r.person for rs in found.values() for r in rs})
    layers = {pk: layer for one in loaded.values() for pk, layer in one.layers.items()}
    return {
        group_id: [
            ResponderOut(
                users[r.person], layers.get(r.layer_id) if r.layer_id else None, r.source, r.until
            )
            for r in rs
            if r.person in users
        ]
        for group_id, rs in found.items()
    }


def responders(group: SupportGroup, at: datetime) -> list[ResponderOut]:
    """Whom a page to ``group`` reaches at ``at``, in order; the group's manager
    last (alone when the group keeps no schedule)."""
    return responders_by_group([group], at)[group.pk]


def on_call_person(group: SupportGroup, at: datetime) -> User | None:
    """The group's primary on-call person at ``at`` (None without a schedule)."""
    first = next((r for r in responders(group, at) if r.source != "manager"), None)
    return None if first is None else first.person


def shifts_with_people(
    schedule: OnCallSchedule, start: datetime, days: int
) -> tuple[list[rotation.Shift], dict[int, User]]:
    """The primary's shifts from ``start`` for ``days``, and the people in them."""
    end = start + timedelta(days=days)
    shifts = schedule_spec(schedule, start=start, end=end).timeline(start, end)
    return shifts, User.objects.in_bulk({s.member for s in shifts})


def ical_feed(schedule: OnCallSchedule, *, start: datetime, days: int, now: datetime) -> bytes:
    """The primary's shifts as an iCal feed (RFC 5545)."""
    shifts, people = shifts_with_people(schedule, start, days)
    return ical.export(
        name=schedule.name, schedule_id=schedule.pk, shifts=shifts, people=people, now=now
    )
