"""Who is on call: rotations, layers and overrides as pure functions (no Django).

A *rotation* hands off between its members at a local wall time: a daily or
weekly rotation handing off at 09:00 hands off at 09:00 local time before and
after a daylight-saving change (the shift that spans the change is an hour
shorter or longer). A custom rotation's shift length is wall-clock time too.

A schedule's *layers* are ordered: the first layer's person is the primary
responder, the next layers' people are the next responders in turn. A layer
may be restricted to some hours of the week (a night or weekend layer).
*Overrides* replace one layer's person for a period (holidays, swaps, imported
iCal shifts). Property-tested in ``tests/test_rotation.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from servicedesk.escalation.calendars import Calendar, zone


@dataclass(frozen=True)
class Shift:
    member: int
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Rotation:
    """Members take turns from ``start`` (a naive *local* wall time) in shifts of
    ``length`` wall-clock time."""

    time_zone: str
    start: datetime
    length: timedelta
    members: tuple[int, ...]

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None:
            raise ValueError("a rotation starts at a local wall time (naive datetime)")
        if self.length < timedelta(hours=1):
            raise ValueError("shifts last at least an hour")
        zone(self.time_zone)

    def boundary(self, k: int) -> datetime:
        """When shift ``k`` starts (UTC). Non-existent wall times are read with the
        offset before the change; the sequence never goes backwards."""
        local = (self.start + self.length * k).replace(tzinfo=zone(self.time_zone))
        return local.astimezone(UTC)

    def index_at(self, at: datetime) -> int | None:
        """The shift number covering ``at``; None before the rotation starts."""
        local = at.astimezone(zone(self.time_zone)).replace(tzinfo=None)
        k = (local - self.start) // self.length
        # The wall-clock guess can be one off around a DST change: settle it on
        # the UTC boundaries, which are what hand-offs really are.
        while k > -1 and self.boundary(k) > at:
            k -= 1
        while self.boundary(k + 1) <= at:
            k += 1
        if k < 0 or self.boundary(k) > at:
            return None
        return k

    def shift_at(self, at: datetime) -> Shift | None:
        if not self.members:
            return None
        k = self.index_at(at)
        if k is None:
            return None
        return Shift(self.members[k % len(self.members)], self.boundary(k), self.boundary(k + 1))

    def shifts(self, start: datetime, end: datetime) -> Iterator[Shift]:
        """Shifts overlapping ``[start, end)``, clipped to it."""
        if not self.members or end <= start:
            return
        k = self.index_at(start)
        if k is None:
            k = 0
        while True:
            lo, hi = self.boundary(k), self.boundary(k + 1)
            if lo >= end:
                return
            if hi > start and hi > lo:
                yield Shift(self.members[k % len(self.members)], max(lo, start), min(hi, end))
            k += 1


@dataclass(frozen=True)
class Layer:
    id: int
    name: str
    rotation: Rotation
    # None: always active; else the hours of the week the layer covers.
    restriction: Calendar | None = None

    def person_at(self, at: datetime) -> tuple[int, datetime] | None:
        """(member, until when) covering ``at`` on this layer, or None."""
        if self.restriction is not None and not self.restriction.is_open(at):
            return None
        shift = self.rotation.shift_at(at)
        if shift is None:
            return None
        until = shift.end
        if self.restriction is not None:
            # Coverage also ends when the restriction window closes.
            for _, hi in self.restriction.intervals(at, shift.end):
                until = min(until, hi)
                break
        return shift.member, until

    def change_points(self, start: datetime, end: datetime) -> set[datetime]:
        points = {s.start for s in self.rotation.shifts(start, end)}
        points |= {s.end for s in self.rotation.shifts(start, end)}
        if self.restriction is not None:
            for lo, hi in self.restriction.intervals(start, end):
                points |= {lo, hi}
        return points


@dataclass(frozen=True)
class Override:
    person: int
    start: datetime
    end: datetime
    layer_id: int | None = None  # None: the first layer


@dataclass(frozen=True)
class Responder:
    person: int
    layer_id: int | None
    source: str  # "override" | "rotation" | "manager"
    until: datetime | None


@dataclass(frozen=True)
class Cover:
    """A period over which the same people are on call (the manager fallback
    left out); ``responders`` is empty when nobody is."""

    start: datetime
    end: datetime
    responders: tuple[Responder, ...]


@dataclass(frozen=True)
class Schedule:
    layers: tuple[Layer, ...]
    overrides: tuple[Override, ...] = ()
    manager: int | None = None

    def responders(self, at: datetime) -> list[Responder]:
        """Who to page at ``at``, in order: each layer's person (an override's
        instead where one applies), then the group's manager; nobody twice."""
        result: list[Responder] = []
        first_layer = self.layers[0].id if self.layers else None
        for layer in self.layers:
            override = next(
                (
                    o for o in self.overrides
                    if (o.layer_id or first_layer) == layer.id and o.start <= at < o.end
                ),
                None,
            )  # fmt: skip
            if override is not None:
                candidate = Responder(override.person, layer.id, "override", override.end)
            else:
                covered = layer.person_at(at)
                if covered is None:
                    continue
                candidate = Responder(covered[0], layer.id, "rotation", covered[1])
            if all(r.person != candidate.person for r in result):
                result.append(candidate)
        if not self.layers:
            # A schedule with overrides only (an imported feed) still answers.
            for o in self.overrides:
                if o.start <= at < o.end and all(r.person != o.person for r in result):
                    result.append(Responder(o.person, None, "override", o.end))
        if self.manager is not None and all(r.person != self.manager for r in result):
            result.append(Responder(self.manager, None, "manager", None))
        return result

    def on_call(self, at: datetime) -> int | None:
        """The primary responder (never the manager fallback)."""
        first = next((r for r in self.responders(at) if r.source != "manager"), None)
        return None if first is None else first.person

    def timeline(self, start: datetime, end: datetime) -> list[Shift]:
        """The primary on-call person over ``[start, end)`` as merged shifts (the
        iCal export); gaps without anyone on call are left out."""
        points = {start, end}
        for layer in self.layers:
            points |= layer.change_points(start, end)
        for o in self.overrides:
            points |= {o.start, o.end}
        ordered = sorted(p for p in points if start <= p <= end)
        result: list[Shift] = []
        for lo, hi in pairwise(ordered):
            if hi <= lo:
                continue
            person = self.on_call(lo)
            if person is None:
                continue
            if result and result[-1].member == person and result[-1].end == lo:
                result[-1] = Shift(person, result[-1].start, hi)
            else:
                result.append(Shift(person, lo, hi))
        return result

    def coverage(
        self, start: datetime, end: datetime, cuts: Iterable[datetime] = ()
    ) -> list[Cover]:
        """Who is on call over ``[start, end)``, layer by layer, as consecutive
        periods (the calendar page): a period ends where anyone changes (a
        hand-off, an override, a restriction window) and at each of ``cuts``
        (e.g. local midnights); gaps are periods with nobody."""
        cut_points = {c for c in cuts if start < c < end}
        points = {start, end} | cut_points
        for layer in self.layers:
            points |= layer.change_points(start, end)
        for o in self.overrides:
            points |= {o.start, o.end}
        ordered = sorted(p for p in points if start <= p <= end)
        result: list[Cover] = []
        for lo, hi in pairwise(ordered):
            if hi <= lo:
                continue
            found = tuple(
                Responder(r.person, r.layer_id, r.source, hi)
                for r in self.responders(lo)
                if r.source != "manager"
            )
            key = [(r.person, r.layer_id, r.source) for r in found]
            last = result[-1] if result else None
            if (
                last is not None
                and last.end == lo
                and lo not in cut_points
                and [(r.person, r.layer_id, r.source) for r in last.responders] == key
            ):
                result[-1] = Cover(last.start, hi, found)
            else:
                result.append(Cover(lo, hi, found))
        return result


def rotation_length(kind: str, custom_seconds: int | None) -> timedelta:
    if kind == "daily":
        return timedelta(days=1)
    if kind == "weekly":
        return timedelta(days=7)
    if not custom_seconds:
        raise ValueError("a custom rotation needs its shift length")
    return timedelta(seconds=custom_seconds)
