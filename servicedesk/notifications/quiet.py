"""Quiet hours: when may a non-urgent message reach a person?

Pure functions of (moment, time zone, working days and hours), so they can be
tested over DST changes and odd schedules. A schedule whose start is after
its end is an overnight shift (22:00-06:00): the hours after midnight belong
to the working day on which the shift started.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class WorkingHours:
    days: frozenset[int]  # Monday = 0
    starts: time
    ends: time
    time_zone: ZoneInfo

    @property
    def overnight(self) -> bool:
        return self.starts > self.ends


def _at(day: date, moment: time, tz: ZoneInfo) -> datetime:
    """The first instant at which the wall clock in ``tz`` shows ``moment`` on ``day``
    or later: the time itself, its first occurrence when the clocks go back, or the
    end of the gap when the clocks skip it."""
    naive = datetime.combine(day, moment)
    first = naive.replace(tzinfo=tz, fold=0)
    if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == naive:
        return first
    # Inside a spring-forward gap: search (by whole seconds) for the instant the
    # clocks jump, between the two readings PEP 495 gives a non-existent time.
    low, high = sorted(
        int(naive.replace(tzinfo=tz, fold=fold).timestamp()) for fold in (0, 1)
    )  # fmt: skip
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, tz).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, tz)


def is_working(hours: WorkingHours, moment: datetime) -> bool:
    """Is ``moment`` (aware) inside the person's working time?"""
    if not hours.days or hours.starts == hours.ends:
        # No schedule to respect: a person with no working days set is never held back.
        return True
    local = moment.astimezone(hours.time_zone)
    today, clock = local.date(), local.timetz().replace(tzinfo=None)
    if not hours.overnight:
        return today.weekday() in hours.days and hours.starts <= clock < hours.ends
    yesterday = today - timedelta(days=1)
    return (today.weekday() in hours.days and clock >= hours.starts) or (
        yesterday.weekday() in hours.days and clock < hours.ends
    )


def next_working_moment(hours: WorkingHours, moment: datetime) -> datetime | None:
    """None when ``moment`` is working time; else the start of the next working period (UTC)."""
    if is_working(hours, moment):
        return None
    local_day = moment.astimezone(hours.time_zone).date()
    for offset in range(0, 8):
        day = local_day + timedelta(days=offset)
        if day.weekday() not in hours.days:
            continue
        start = _at(day, hours.starts, hours.time_zone)
        # A window the clocks skip entirely (02:15-02:45 on a spring-forward night)
        # does not happen that day.
        if start > moment and is_working(hours, start):
            return start.astimezone(UTC)
    return None  # unreachable while days is non-empty
