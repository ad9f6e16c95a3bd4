"""Business-time arithmetic: calendars, holidays, time zones and pausable clocks.

A pure module (no Django): everything here is a function of its arguments, so
it is property-tested with hypothesis (``tests/test_calendars.py``).

A :class:`Calendar` is either *24x7* (every second counts) or *business
hours*: weekly opening windows in the calendar's local time, minus public
holidays (the ``holidays`` package: Russia and many other countries, with
their transferred working days) and extra closed days, plus extra working
days. Windows are defined in local wall time and converted to UTC day by day,
so a daylight-saving change shortens or lengthens the day it happens on and
never shifts opening hours (Grafana OnCall #5247, Zammad #4432).

A :class:`Clock` counts business time while it runs: it is paused (pending on
the user or a vendor) and resumed without losing or double-counting a second
(GLPI #24481: clocks that breach while pending).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holiday_data

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 24 * 60
# How far ahead a deadline is searched for: a calendar that opens less often
# than this has no usable business time.
HORIZON_DAYS = 3 * 366
_HHMM = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")

Window = tuple[int, int]  # minutes after local midnight: [start, end), end <= 1440


class CalendarError(ValueError):
    """The calendar's definition is invalid or it never opens."""


def parse_hhmm(text: str) -> int:
    """``"09:30"`` -> 570; ``"24:00"`` (the end of the day) -> 1440."""
    match = _HHMM.match(text.strip())
    if not match:
        raise CalendarError(f"{text!r} is not a time of day (HH:MM)")
    hours, minutes = int(match.group(1)), int(match.group(2))
    if hours == 24 and minutes:
        raise CalendarError(f"{text!r} is past the end of the day")
    return hours * 60 + minutes


def format_hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def normalise_windows(windows: Sequence[Window]) -> tuple[Window, ...]:
    """Sort, drop zero-length windows, merge overlapping or touching ones."""
    merged: list[list[int]] = []
    for start, end in sorted(windows):
        if not 0 <= start <= MINUTES_PER_DAY or not 0 <= end <= MINUTES_PER_DAY:
            raise CalendarError("window outside the day")
        if end < start:
            raise CalendarError(
                f"window ends before it starts ({format_hhmm(start)}-{format_hhmm(end)})"
            )
        if end == start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return tuple((s, e) for s, e in merged)


@lru_cache(maxsize=256)
def _holidays(country: str, subdivision: str, year: int) -> tuple[frozenset[date], frozenset[date]]:
    """(closed days, transferred working days) of a country for a year."""
    try:
        table = holiday_data.country_holidays(country, subdiv=subdivision or None, years=year)
    except NotImplementedError as exc:
        raise CalendarError(f"no holiday data for {country!r} {subdivision!r}") from exc
    workdays = frozenset(getattr(table, "weekend_workdays", ()) or ())
    return frozenset(table.keys()), workdays


def check_country(country: str, subdivision: str = "") -> None:
    """Raise :class:`CalendarError` unless the holidays package knows the country."""
    if country:
        _holidays(country, subdivision, 2025)


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CalendarError(f"unknown time zone {name!r}") from exc


@dataclass(frozen=True)
class Calendar:
    """When the clock runs. ``week`` is None for 24x7, else seven tuples of
    windows (Monday first) in the local time of ``time_zone``."""

    time_zone: str = "UTC"
    week: tuple[tuple[Window, ...], ...] | None = None
    country: str = ""
    subdivision: str = ""
    extra_holidays: frozenset[date] = field(default_factory=frozenset)
    extra_workdays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        zone(self.time_zone)
        if self.week is not None:
            if len(self.week) != 7:
                raise CalendarError("a week has seven days")
            object.__setattr__(self, "week", tuple(normalise_windows(day) for day in self.week))
            if not any(self.week):
                raise CalendarError("the calendar is never open")
        check_country(self.country, self.subdivision)

    # ---- construction -------------------------------------------------------------
    @classmethod
    def always(cls) -> Calendar:
        return cls()

    @classmethod
    def business_hours(
        cls, hours: Mapping[str, Sequence[Sequence[str]]], *, time_zone: str = "UTC",
        country: str = "", subdivision: str = "", extra_holidays: Sequence[date] = (),
        extra_workdays: Sequence[date] = (),
    ) -> Calendar:  # fmt: skip
        """``hours`` maps ``"mon"``..``"sun"`` to ``[["09:00", "18:00"], ...]``."""
        unknown = set(hours) - set(DAYS)
        if unknown:
            raise CalendarError(f"unknown day {sorted(unknown)[0]!r} (use mon..sun)")
        week = tuple(
            tuple((parse_hhmm(w[0]), parse_hhmm(w[1])) for w in hours.get(day, ())) for day in DAYS
        )
        return cls(
            time_zone=time_zone, week=week, country=country.upper(), subdivision=subdivision,
            extra_holidays=frozenset(extra_holidays), extra_workdays=frozenset(extra_workdays),
        )  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calendar:
        """The inverse of :meth:`to_dict` (snapshots stored with a policy)."""
        if data.get("kind", "24x7") == "24x7":
            return cls(time_zone=data.get("time_zone") or "UTC")
        return cls.business_hours(
            data.get("hours") or {}, time_zone=data.get("time_zone") or "UTC",
            country=data.get("country") or "", subdivision=data.get("subdivision") or "",
            extra_holidays=[date.fromisoformat(d) for d in data.get("extra_holidays") or ()],
            extra_workdays=[date.fromisoformat(d) for d in data.get("extra_workdays") or ()],
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        if self.week is None:
            return {"kind": "24x7", "time_zone": self.time_zone}
        return {
            "kind": "business_hours",
            "time_zone": self.time_zone,
            "hours": {
                DAYS[i]: [[format_hhmm(s), format_hhmm(e)] for s, e in day]
                for i, day in enumerate(self.week)
                if day
            },
            "country": self.country,
            "subdivision": self.subdivision,
            "extra_holidays": sorted(d.isoformat() for d in self.extra_holidays),
            "extra_workdays": sorted(d.isoformat() for d in self.extra_workdays),
        }

    # ---- days ----------------------------------------------------------------------
    @property
    def always_open(self) -> bool:
        return self.week is None

    def _workday_hours(self) -> tuple[Window, ...]:
        """Hours of a transferred working day: those of the first open weekday."""
        assert self.week is not None
        return next((day for day in self.week[:5] if day), next(day for day in self.week if day))

    def is_holiday(self, day: date) -> bool:
        if day in self.extra_workdays:
            return False
        if day in self.extra_holidays:
            return True
        return bool(self.country) and day in _holidays(self.country, self.subdivision, day.year)[0]

    def local_windows(self, day: date) -> tuple[Window, ...]:
        """Opening windows of a local date (empty on holidays)."""
        assert self.week is not None
        if self.is_holiday(day):
            return ()
        windows = self.week[day.weekday()]
        if not windows and (
            day in self.extra_workdays
            or (self.country and day in _holidays(self.country, self.subdivision, day.year)[1])
        ):
            windows = self._workday_hours()
        return windows

    def day_intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """Opening intervals of a local date as UTC instants, in order.

        A wall time that does not exist (the spring-forward gap) is read with
        the offset before the change, i.e. moved forward by the gap; an
        ambiguous one (fall-back) is its first occurrence. Windows never
        overlap after conversion.
        """
        tz = zone(self.time_zone)
        result: list[tuple[datetime, datetime]] = []
        for start, end in self.local_windows(day):
            utc_start = _to_utc(day, start, tz)
            utc_end = _to_utc(day, end, tz)
            if result and utc_start < result[-1][1]:
                utc_start = result[-1][1]
            if utc_end > utc_start:
                result.append((utc_start, utc_end))
        return result

    # ---- arithmetic ---------------------------------------------------------------------
    def intervals(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals clipped to ``[start, end)``, in order (UTC)."""
        _aware(start, end)
        if end <= start:
            return
        if self.week is None:
            yield start.astimezone(UTC), end.astimezone(UTC)
            return
        tz = zone(self.time_zone)
        day = start.astimezone(tz).date() - timedelta(days=1)
        last = end.astimezone(tz).date() + timedelta(days=1)
        while day <= last:
            for ws, we in self.day_intervals(day):
                lo, hi = max(ws, start), min(we, end)
                if hi > lo:
                    yield lo.astimezone(UTC), hi.astimezone(UTC)
            day += timedelta(days=1)

    def seconds_between(self, start: datetime, end: datetime) -> float:
        """Business seconds in ``[start, end)`` (0 when ``end <= start``)."""
        return sum((hi - lo).total_seconds() for lo, hi in self.intervals(start, end))

    def add(self, start: datetime, seconds: float) -> datetime:
        """The moment ``seconds`` of business time after ``start``.

        With ``seconds == 0`` that is the first open moment at or after
        ``start``: a step due "at once" outside business hours waits for the
        opening instead of firing at midnight. A positive amount may end
        exactly at a closing time.
        """
        _aware(start)
        if seconds < 0:
            raise ValueError("seconds must not be negative")
        if self.week is None:
            return (start + timedelta(seconds=seconds)).astimezone(UTC)
        tz = zone(self.time_zone)
        day = start.astimezone(tz).date() - timedelta(days=1)
        remaining = timedelta(seconds=seconds)
        for _ in range(HORIZON_DAYS):
            for ws, we in self.day_intervals(day):
                if we <= start:
                    continue
                lo = max(ws, start)
                available = we - lo
                if remaining == timedelta(0) or available >= remaining:
                    return (lo + remaining).astimezone(UTC)
                remaining -= available
            day += timedelta(days=1)
        raise CalendarError(f"the calendar has no open time within {HORIZON_DAYS} days")

    def is_open(self, moment: datetime) -> bool:
        _aware(moment)
        if self.week is None:
            return True
        day = moment.astimezone(zone(self.time_zone)).date()
        return any(
            lo <= moment < hi
            for d in (day - timedelta(days=1), day, day + timedelta(days=1))
            for lo, hi in self.day_intervals(d)
        )


def _to_utc(day: date, minutes: int, tz: ZoneInfo) -> datetime:
    if minutes >= MINUTES_PER_DAY:
        day, minutes = day + timedelta(days=1), minutes - MINUTES_PER_DAY
    local = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=tz)
    return local.astimezone(UTC)


def _aware(*moments: datetime) -> None:
    for moment in moments:
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError("calendar arithmetic needs timezone-aware datetimes")


# ---- clocks -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Clock:
    """A pausable clock counting business time: ``consumed`` seconds banked before
    ``running_since`` (None while paused or stopped)."""

    consumed: float = 0.0
    running_since: datetime | None = None

    @classmethod
    def started(cls, at: datetime) -> Clock:
        return cls(0.0, at)

    @property
    def running(self) -> bool:
        return self.running_since is not None

    def elapsed(self, calendar: Calendar, now: datetime) -> float:
        """Business seconds counted up to ``now``."""
        if self.running_since is None:
            return self.consumed
        return self.consumed + calendar.seconds_between(self.running_since, now)

    def pause(self, calendar: Calendar, now: datetime) -> Clock:
        if self.running_since is None:
            return self
        return Clock(self.elapsed(calendar, now), None)

    def resume(self, now: datetime) -> Clock:
        return self if self.running_since is not None else replace(self, running_since=now)

    def due(self, calendar: Calendar, target: float) -> datetime | None:
        """When the clock reaches ``target`` seconds; None while paused.

        A target already reached is due at once (the moment it resumed).
        """
        if self.running_since is None:
            return None
        return calendar.add(self.running_since, max(0.0, target - self.consumed))
