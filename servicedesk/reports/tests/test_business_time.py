"""Reports count business time with the escalation engine's calendars."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servicedesk.escalation.calendars import Calendar, CalendarError
from servicedesk.escalation.models import BusinessCalendar
from servicedesk.reports import business_time
from servicedesk.reports.business_time import business_seconds

HOUR = 3600.0


@pytest.fixture(autouse=True)
def _brussels(settings: Any) -> None:
    settings.SERVICEDESK_REPORTS_TIME_ZONE = "Europe/Brussels"
    settings.SERVICEDESK_REPORTS_BUSINESS_HOURS = "09:00-18:00"
    settings.SERVICEDESK_REPORTS_HOLIDAYS = "BE"
    settings.SERVICEDESK_REPORTS_CALENDAR = ""


def local(y: int, m: int, d: int, h: int = 0, minute: int = 0) -> datetime:
    return datetime(y, m, d, h, minute, tzinfo=ZoneInfo("Europe/Brussels"))


def test_known_values() -> None:
    # Friday 16:00 -> Monday 10:00: 2 h on Friday, 1 h on Monday.
    assert business_seconds(local(2025, 3, 7, 16), local(2025, 3, 10, 10)) == 3 * HOUR
    # A whole week: five days of nine hours.
    assert business_seconds(local(2025, 3, 3), local(2025, 3, 10)) == 45 * HOUR
    # Outside hours and weekends count nothing.
    assert business_seconds(local(2025, 3, 8, 10), local(2025, 3, 9, 17)) == 0
    assert business_seconds(local(2025, 3, 3, 18), local(2025, 3, 4, 9)) == 0
    # Easter Monday 2025 (21 April) is a Belgian holiday.
    assert business_seconds(local(2025, 4, 18, 17), local(2025, 4, 22, 10)) == 2 * HOUR
    # Reversed or empty intervals are zero.
    assert business_seconds(local(2025, 3, 4, 12), local(2025, 3, 4, 11)) == 0


def test_daylight_saving_change_keeps_local_hours() -> None:
    # Clocks go forward on Sunday 30 March 2025: Monday is still 09:00-18:00 local.
    start = local(2025, 3, 28, 17)  # Friday, UTC+1
    end = local(2025, 3, 31, 10)  # Monday, UTC+2
    assert business_seconds(start, end) == 2 * HOUR
    assert business_seconds(start.astimezone(UTC), end.astimezone(UTC)) == 2 * HOUR


def brute_force(start: datetime, end: datetime) -> float:
    """Day by day, the obvious way (09:00-18:00 Brussels, Monday to Friday, less
    the Belgian public holidays), independent of the escalation calendars."""
    import holidays

    zone = ZoneInfo("Europe/Brussels")
    closed = holidays.country_holidays("BE", years=range(2023, 2028))
    total = 0.0
    day = start.astimezone(zone).date() - timedelta(days=1)
    while day <= end.astimezone(zone).date():
        if day.weekday() < 5 and day not in closed:
            opens = datetime.combine(day, time(9), tzinfo=zone)
            closes = datetime.combine(day, time(18), tzinfo=zone)
            overlap = (min(end, closes) - max(start, opens)).total_seconds()
            total += max(overlap, 0.0)
        day += timedelta(days=1)
    return total


moments = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=200, deadline=None)
@given(a=moments, span=st.integers(min_value=0, max_value=40 * 86400))
def test_matches_the_obvious_day_by_day_sum(a: datetime, span: int) -> None:
    b = a + timedelta(seconds=span)
    assert business_seconds(a, b) == pytest.approx(brute_force(a, b), abs=1e-6)


@settings(max_examples=200, deadline=None)
@given(
    a=st.datetimes(
        min_value=datetime(1999, 12, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
    ),
    span=st.integers(min_value=0, max_value=400 * 86400),
)
def test_the_cumulative_clock_is_seconds_between(a: datetime, span: int) -> None:
    """The fast path (a cumulative clock) sums exactly what the SLA's calendar sums."""
    b = a + timedelta(seconds=span)
    cal = business_time.calendar()
    assert business_seconds(a, b) == pytest.approx(cal.seconds_between(a, b), abs=1e-6)


@settings(max_examples=200, deadline=None)
@given(a=moments, x=st.integers(0, 20 * 86400), y=st.integers(0, 20 * 86400))
def test_additive_and_bounded(a: datetime, x: int, y: int) -> None:
    b, c = a + timedelta(seconds=x), a + timedelta(seconds=x + y)
    whole = business_seconds(a, c)
    assert whole == pytest.approx(business_seconds(a, b) + business_seconds(b, c), abs=1e-6)
    assert 0 <= whole <= (c - a).total_seconds()


def test_hours_must_make_sense(settings: Any) -> None:
    settings.SERVICEDESK_REPORTS_BUSINESS_HOURS = "18:00-09:00"
    with pytest.raises(ValueError, match="closing must follow opening"):
        business_seconds(local(2025, 3, 3), local(2025, 3, 4))


def test_the_calendar_is_the_escalation_engines() -> None:
    cal = business_time.calendar()
    assert isinstance(cal, Calendar)
    assert cal.time_zone == "Europe/Brussels" and cal.country == "BE"
    assert cal.local_windows(date(2025, 3, 3)) == ((9 * 60, 18 * 60),)
    assert cal.local_windows(date(2025, 3, 8)) == ()


MOSCOW = ZoneInfo("Europe/Moscow")


@pytest.fixture
def _forget() -> Iterator[None]:
    yield
    business_time.forget_named()  # the row's edit is rolled back with the test


@pytest.mark.usefixtures("_forget")
def test_a_named_business_calendar_agrees_with_the_sla(settings: Any, db: None) -> None:
    """SERVICEDESK_REPORTS_CALENDAR names an escalation calendar (the migration's
    Moscow office hours, Russian holidays): reports count exactly its time."""
    settings.SERVICEDESK_REPORTS_CALENDAR = "Business hours, Moscow"
    row = BusinessCalendar.objects.get(name="Business hours, Moscow")
    # Friday 31 Oct 2025 17:00 -> Wednesday 5 Nov 10:00 (Moscow): Friday 1 h, Saturday
    # 1 Nov is a transferred working day (9 h), Monday 3 and Tuesday 4 Nov are
    # holidays, Wednesday 1 h: 11 h.
    start = datetime(2025, 10, 31, 17, tzinfo=MOSCOW)
    end = datetime(2025, 11, 5, 10, tzinfo=MOSCOW)
    assert business_seconds(start, end) == 11 * HOUR
    assert business_seconds(start, end) == row.spec().seconds_between(start, end)
    # An edit to the calendar applies at once (the cache is dropped on save).
    row.hours = {day: [["10:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
    row.save()
    assert business_seconds(start, end) == (1 + 8 + 0) * HOUR
    settings.SERVICEDESK_REPORTS_CALENDAR = "No such calendar"
    with pytest.raises(CalendarError, match="No such calendar"):
        business_seconds(start, end)
