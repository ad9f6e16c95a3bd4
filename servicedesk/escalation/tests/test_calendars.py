"""Business-time arithmetic, property-tested: DST, holidays, pauses, zero-length windows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from servicedesk.escalation.calendars import (
    Calendar,
    CalendarError,
    Clock,
    normalise_windows,
    parse_hhmm,
)

OFFICE = {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
ZONES = ["UTC", "Europe/Moscow", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe",
         "Asia/Kolkata", "America/Sao_Paulo"]  # fmt: skip
EPS = 1e-3

# Daylight-saving changes (New York, the EU, Lord Howe's half hour, Sao Paulo
# in 2018) and New Year: moments are drawn near them as often as anywhere.
TRANSITIONS = [datetime(2025, 3, 9, 7), datetime(2025, 11, 2, 6), datetime(2025, 3, 30, 1),
               datetime(2025, 10, 26, 1), datetime(2025, 4, 5, 15), datetime(2018, 11, 4, 3),
               datetime(2024, 12, 31, 21)]  # fmt: skip
moments = st.one_of(
    st.datetimes(min_value=datetime(2018, 1, 1), max_value=datetime(2030, 12, 31)),
    st.builds(
        lambda t, d: t + d,
        st.sampled_from(TRANSITIONS),
        st.timedeltas(-timedelta(days=2), timedelta(days=2)),
    ),
).map(lambda d: d.replace(tzinfo=UTC))
amounts = st.floats(min_value=0, max_value=10 * 86400, allow_nan=False)


@st.composite
def calendars(draw: st.DrawFn) -> Calendar:
    tz = draw(st.sampled_from(ZONES))
    if draw(st.booleans()):
        return Calendar(time_zone=tz)
    week = []
    for _ in range(7):
        windows = []
        for _ in range(draw(st.integers(0, 3))):
            start = draw(st.integers(0, 1440))
            # zero-length windows on purpose: they must count for nothing
            end = draw(st.integers(start, min(1440, start + 600)))
            windows.append((start, end))
        week.append(tuple(windows))
    # At least four open hours a week, so that a month of business time stays
    # within the search horizon whatever the holidays.
    assume(sum(e - s for day in week for s, e in normalise_windows(day)) >= 240)
    country = draw(st.sampled_from(["", "RU", "DE", "US"]))
    return Calendar(time_zone=tz, week=tuple(week), country=country)


def _office(tz: str = "Europe/Moscow", **kw: object) -> Calendar:
    return Calendar.business_hours(OFFICE, time_zone=tz, **kw)  # type: ignore[arg-type]


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


class TestProperties:
    @settings(max_examples=150, deadline=None)
    @given(calendars(), moments, amounts)
    def test_add_then_measure_gives_the_amount_back(
        self, cal: Calendar, start: datetime, seconds: float
    ) -> None:
        end = cal.add(start, seconds)
        assert end >= start
        assert cal.seconds_between(start, end) == pytest.approx(seconds, abs=EPS)

    @settings(max_examples=100, deadline=None)
    @given(calendars(), moments, amounts, amounts)
    def test_add_is_monotonic_and_additive(
        self, cal: Calendar, start: datetime, a: float, b: float
    ) -> None:
        lo, hi = sorted((a, b))
        assert cal.add(start, lo) <= cal.add(start, hi)
        if b > EPS:
            # Adding in two parts lands where adding at once does (a part ending
            # at a closing time continues at the next opening).
            step = cal.add(cal.add(start, a), b)
            assert abs((step - cal.add(start, a + b)).total_seconds()) < EPS

    @settings(max_examples=100, deadline=None)
    @given(calendars(), moments, amounts)
    def test_deadlines_fall_in_business_time(
        self, cal: Calendar, start: datetime, seconds: float
    ) -> None:
        end = cal.add(start, seconds)
        if seconds == 0:
            assert cal.is_open(end)
        else:
            # Inside an open window, or exactly at the closing of one.
            assert cal.is_open(end) or cal.is_open(end - timedelta(microseconds=1))

    @settings(max_examples=100, deadline=None)
    @given(st.sampled_from(ZONES), moments, amounts)
    def test_24x7_is_plain_elapsed_time_across_dst(
        self, tz: str, start: datetime, seconds: float
    ) -> None:
        cal = Calendar(time_zone=tz)
        end = cal.add(start, seconds)
        assert abs((end - start).total_seconds() - seconds) < 1e-5

    @settings(max_examples=100, deadline=None)
    @given(calendars(), moments, st.timedeltas(timedelta(0), timedelta(days=60)))
    def test_measure_splits_at_any_point(
        self, cal: Calendar, lo: datetime, length: timedelta
    ) -> None:
        hi = lo + length
        mid = lo + (hi - lo) / 3
        whole = cal.seconds_between(lo, hi)
        assert whole == pytest.approx(
            cal.seconds_between(lo, mid) + cal.seconds_between(mid, hi), abs=EPS
        )
        assert 0 <= whole <= (hi - lo).total_seconds() + EPS

    @settings(max_examples=100, deadline=None)
    @given(
        calendars(),
        moments,
        st.floats(min_value=1, max_value=5 * 86400),
        st.lists(st.tuples(st.floats(0, 3 * 86400), st.floats(0, 3 * 86400)), max_size=4),
    )
    def test_pauses_delay_the_deadline_by_their_business_time(
        self, cal: Calendar, start: datetime, target: float,
        pauses: list[tuple[float, float]],
    ) -> None:  # fmt: skip
        """Pausing and resuming a clock moves its due time by exactly the business
        time spent paused: nothing is lost, nothing is counted twice."""
        clock = Clock.started(start)
        now, paused_business = start, 0.0
        for run, pause in pauses:
            now += timedelta(seconds=run)
            clock = clock.pause(cal, now)
            resumed = now + timedelta(seconds=pause)
            paused_business += cal.seconds_between(now, resumed)
            clock = clock.resume(resumed)
            now = resumed
        due = clock.due(cal, target)
        assert due is not None
        total = cal.seconds_between(start, due) - paused_business
        if clock.consumed < target:
            assert total == pytest.approx(target, abs=EPS)
        else:
            assert due == cal.add(clock.running_since, 0)  # type: ignore[arg-type]


class TestExamples:
    def test_office_hours_skip_nights_weekends_and_holidays(self) -> None:
        cal = _office(country="RU")
        # Friday 17:00 MSK + 2 business hours -> Monday 10:00 MSK.
        friday = datetime(2025, 3, 14, 14, 0, tzinfo=UTC)
        assert cal.add(friday, 2 * 3600) == utc(2025, 3, 17, 7, 0)
        # Saturday 28 Dec 2024 was a transferred working day; 30 and 31 Dec
        # were days off, then the New Year holidays: 17:00 + 2h -> 9 Jan 10:00.
        assert cal.add(utc(2024, 12, 27, 14, 0), 2 * 3600) == utc(2024, 12, 28, 7, 0)
        assert cal.add(utc(2024, 12, 28, 14, 0), 2 * 3600) == utc(2025, 1, 9, 7, 0)
        # A transferred working Saturday (1 Nov 2025) counts.
        assert cal.add(utc(2025, 10, 31, 14, 0), 2 * 3600) == utc(2025, 11, 1, 7, 0)

    def test_extra_days(self) -> None:
        cal = _office(extra_holidays=[date(2025, 3, 17)], extra_workdays=[date(2025, 3, 15)])
        assert cal.add(utc(2025, 3, 14, 14, 0), 2 * 3600) == utc(2025, 3, 15, 7, 0)
        assert cal.seconds_between(utc(2025, 3, 17), utc(2025, 3, 18)) == 0

    def test_zero_seconds_waits_for_the_opening(self) -> None:
        cal = _office("UTC")
        saturday_night = utc(2025, 3, 15, 23, 0)
        assert cal.add(saturday_night, 0) == utc(2025, 3, 17, 9, 0)
        assert cal.add(utc(2025, 3, 17, 10, 0), 0) == utc(2025, 3, 17, 10, 0)
        assert Calendar().add(saturday_night, 0) == saturday_night

    def test_positive_amount_may_end_at_closing_time(self) -> None:
        cal = _office("UTC")
        assert cal.add(utc(2025, 3, 17, 17, 0), 3600) == utc(2025, 3, 17, 18, 0)
        assert cal.add(utc(2025, 3, 17, 17, 0), 3601) == utc(2025, 3, 18, 9, 0, 1)

    @pytest.mark.parametrize(
        ("day", "hours"),
        [(date(2025, 3, 9), 23), (date(2025, 11, 2), 25), (date(2025, 6, 1), 24)],
    )
    def test_dst_days_are_shorter_or_longer(self, day: date, hours: int) -> None:
        full = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
        cal = Calendar.business_hours(full, time_zone="America/New_York")
        (lo, hi), *_ = cal.day_intervals(day)
        assert (hi - lo) == timedelta(hours=hours)

    def test_office_hours_keep_local_time_across_dst(self) -> None:
        cal = _office("Europe/Berlin")
        # Friday 28 March 2025 17:00 CET (16:00 UTC) + 2h -> Monday 31 March 10:00 CEST.
        assert cal.add(utc(2025, 3, 28, 16, 0), 2 * 3600) == utc(2025, 3, 31, 8, 0)

    def test_window_in_the_spring_forward_gap(self) -> None:
        night = {"sun": [["02:00", "03:00"], ["03:00", "04:00"]]}
        cal = Calendar.business_hours(night, time_zone="America/New_York")
        # Merged to 02:00-04:00, which lasts one hour on the spring-forward night.
        [(lo, hi)] = cal.day_intervals(date(2025, 3, 9))
        assert hi - lo == timedelta(hours=1)

    def test_zero_length_and_never_open_calendars(self) -> None:
        assert normalise_windows([(540, 540), (600, 660), (660, 700)]) == ((600, 700),)
        with pytest.raises(CalendarError):
            Calendar.business_hours({"mon": [["09:00", "09:00"]]})
        with pytest.raises(CalendarError):
            Calendar.business_hours({"mon": [["18:00", "09:00"]]})
        with pytest.raises(CalendarError):
            Calendar(time_zone="Mars/Olympus")
        with pytest.raises(CalendarError):
            parse_hhmm("24:30")

    def test_round_trip_through_dict(self) -> None:
        cal = _office(country="RU", extra_holidays=[date(2025, 1, 10)])
        assert Calendar.from_dict(cal.to_dict()) == cal
        assert Calendar.from_dict(Calendar().to_dict()) == Calendar()

    def test_clock_pause_over_a_weekend_costs_nothing_outside_hours(self) -> None:
        cal = _office("UTC")
        clock = Clock.started(utc(2025, 3, 14, 9, 0))  # Friday 09:00
        before = clock.due(cal, 10 * 3600)  # Monday 10:00
        assert before == utc(2025, 3, 17, 10, 0)
        # Paused from Friday 18:00 to Monday 09:00: no business time lost.
        paused = clock.pause(cal, utc(2025, 3, 14, 18, 0)).resume(utc(2025, 3, 17, 9, 0))
        assert paused.due(cal, 10 * 3600) == before
        # Paused Friday 17:00 to Monday 10:00: two business hours later.
        late = clock.pause(cal, utc(2025, 3, 14, 17, 0)).resume(utc(2025, 3, 17, 10, 0))
        assert late.due(cal, 10 * 3600) == utc(2025, 3, 17, 12, 0)
        assert clock.pause(cal, utc(2025, 3, 14, 12, 0)).due(cal, 3600) is None
