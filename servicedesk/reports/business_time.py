"""Business time for reports, behind one function: :func:`business_seconds`.

The arithmetic is the escalation engine's (``servicedesk.escalation.calendars.
Calendar.seconds_between``), the same that runs SLA clocks and escalation
offsets, so a report's business hours and an SLA's agree to the second
(windows in local wall time, daylight-saving changes, public holidays and the
holidays package's transferred working days).

Which calendar:

- ``SERVICEDESK_REPORTS_CALENDAR`` names an escalation ``BusinessCalendar``
  (e.g. ``"Business hours, Moscow"``, the one an SLA policy uses): reports
  count that calendar's business time. Edits to the row apply at once in this
  process (a signal drops the cached calendar); other processes within
  :data:`NAMED_TTL` seconds.
- Otherwise (the default) a business-hours calendar built from the reports'
  settings: ``SERVICEDESK_REPORTS_BUSINESS_HOURS`` (default ``09:00-18:00``)
  Monday to Friday, in the reporting time zone, less the public holidays of
  ``SERVICEDESK_REPORTS_HOLIDAYS`` (a country code of the ``holidays``
  package, e.g. ``RU``; empty: none).

Speed: ``seconds_between`` walks the interval day by day (1.5 ms for a year);
reports ask for long intervals often (the age of every open incident), so
:func:`business_seconds` computes the same sum as a difference of a
cumulative clock, ``B(end) - B(start)``, where ``B`` adds the calendar's own
open time per local day (``Calendar.day_intervals``) from 3 January 2000,
memoised per calendar. Before that day it calls ``seconds_between``.

Business figures are stored per incident when it changes: after changing the
calendar run ``servicedesk reports rebuild``.
"""

from __future__ import annotations

import functools
import threading
import time as monotonic
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings

from servicedesk.escalation.calendars import DAYS, Calendar, CalendarError, zone

NAMED_TTL = 60.0
_named_cache: dict[str, tuple[float, Calendar]] = {}
_ANCHOR = date(2000, 1, 3)
# Per calendar: prefix[i] = open seconds in the local days [anchor, anchor + i).
_prefix: dict[Calendar, list[float]] = {}
_prefix_lock = threading.Lock()


def _parse_hours(text: str) -> tuple[time, time]:
    start, _, end = text.partition("-")
    opens, closes = time.fromisoformat(start.strip()), time.fromisoformat(end.strip())
    if closes <= opens:
        raise ValueError(f"business hours {text!r}: closing must follow opening")
    return opens, closes


@functools.lru_cache(maxsize=8)
def _calendar(zone: str, hours: str, country: str) -> Calendar:
    opens, closes = _parse_hours(hours)
    window = [[opens.strftime("%H:%M"), closes.strftime("%H:%M")]]
    return Calendar.business_hours(
        {day: window for day in DAYS[:5]}, time_zone=zone, country=country.strip()
    )


def _named(name: str) -> Calendar:
    found = _named_cache.get(name)
    if found is not None and monotonic.monotonic() - found[0] < NAMED_TTL:
        return found[1]
    from servicedesk.escalation.models import BusinessCalendar

    row = BusinessCalendar.objects.filter(name=name).first()
    if row is None:
        raise CalendarError(f"SERVICEDESK_REPORTS_CALENDAR: no business calendar named {name!r}")
    spec = row.spec()
    _named_cache[name] = (monotonic.monotonic(), spec)
    return spec


def forget_named(**_: Any) -> None:
    """Drop cached named calendars (connected to BusinessCalendar's save and delete)."""
    _named_cache.clear()


def calendar_name() -> str:
    return (getattr(settings, "SERVICEDESK_REPORTS_CALENDAR", "") or "").strip()


def calendar() -> Calendar:
    """The reports' business calendar (see the module's docstring)."""
    name = calendar_name()
    if name:
        return _named(name)
    return _calendar(
        reporting_time_zone(),
        getattr(settings, "SERVICEDESK_REPORTS_BUSINESS_HOURS", "09:00-18:00"),
        getattr(settings, "SERVICEDESK_REPORTS_HOLIDAYS", ""),
    )


def reporting_time_zone() -> str:
    """The zone months, quarters and business days are cut in."""
    return getattr(settings, "SERVICEDESK_REPORTS_TIME_ZONE", "") or settings.TIME_ZONE


def _open_seconds(cal: Calendar, day: date) -> float:
    return sum((hi - lo).total_seconds() for lo, hi in cal.day_intervals(day))


def _cumulative(cal: Calendar, moment: datetime) -> float | None:
    """B(moment): open seconds from the anchor day's start (None before it)."""
    day = moment.astimezone(zone(cal.time_zone)).date()
    index = (day - _ANCHOR).days
    if index < 0:
        return None
    prefix = _prefix.get(cal)
    if prefix is None or len(prefix) <= index:
        with _prefix_lock:
            if len(_prefix) > 16:
                _prefix.clear()
            prefix = _prefix.setdefault(cal, [0.0])
            while len(prefix) <= index:
                prefix.append(prefix[-1] + _open_seconds(cal, _ANCHOR + timedelta(len(prefix) - 1)))
    partial = sum(
        (min(hi, moment) - lo).total_seconds() for lo, hi in cal.day_intervals(day) if lo < moment
    )
    return prefix[index] + partial


def business_seconds(start: datetime, end: datetime) -> float:
    """Business seconds in [start, end) (0 when end <= start): the escalation
    calendar's ``seconds_between``. THE switch point."""
    if end <= start:
        return 0.0
    cal = calendar()
    if cal.always_open:
        return (end - start).total_seconds()
    low = _cumulative(cal, start)
    if low is None:
        return cal.seconds_between(start, end)
    high = _cumulative(cal, end)
    assert high is not None
    return high - low
