"""Rotations, layers and overrides as pure functions; hand-offs across DST."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servicedesk.escalation.calendars import Calendar, zone
from servicedesk.oncall.rotation import Layer, Override, Rotation, Schedule, rotation_length

ZONES = ["UTC", "Europe/Moscow", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe",
         "America/Sao_Paulo"]  # fmt: skip


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@st.composite
def rotations(draw: st.DrawFn) -> Rotation:
    tz = draw(st.sampled_from(ZONES))
    kind = draw(st.sampled_from(["daily", "weekly", "custom"]))
    length = rotation_length(kind, draw(st.integers(3600, 3 * 86400)) if kind == "custom" else None)
    start = datetime(2025, 1, 1) + timedelta(minutes=draw(st.integers(0, 60 * 24 * 30)))
    members = tuple(range(1, draw(st.integers(1, 5)) + 1))
    return Rotation(time_zone=tz, start=start, length=length, members=members)


instants = st.datetimes(min_value=datetime(2025, 2, 1), max_value=datetime(2026, 6, 30)).map(
    lambda d: d.replace(tzinfo=UTC)
)


class TestRotationProperties:
    @settings(max_examples=150, deadline=None)
    @given(rotations(), instants)
    def test_the_shift_covering_a_moment_contains_it(self, rot: Rotation, at: datetime) -> None:
        shift = rot.shift_at(at)
        assert shift is not None
        assert shift.start <= at < shift.end
        k = rot.index_at(at)
        assert k is not None and shift.member == rot.members[k % len(rot.members)]

    @settings(max_examples=100, deadline=None)
    @given(rotations(), instants)
    def test_shifts_are_contiguous_and_hand_off_at_local_wall_time(
        self, rot: Rotation, at: datetime
    ) -> None:
        shifts = list(rot.shifts(at, at + timedelta(days=40)))
        assert shifts[0].start == at and shifts[-1].end == at + timedelta(days=40)
        tz = zone(rot.time_zone)
        for before, after in itertools.pairwise(shifts):
            assert before.end == after.start
            wall = after.start.astimezone(tz).replace(tzinfo=None)
            expected = rot.start + rot.length * rot.index_at(after.start)  # type: ignore[operator]
            exists = (
                expected.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None)
                == expected
            )
            # The hand-off happens at its wall time, unless that time does not exist
            # that day (the spring-forward gap), when it happens as the clocks jump.
            assert wall == expected or not exists

    @settings(max_examples=100, deadline=None)
    @given(rotations(), instants, st.integers(0, 20))
    def test_members_take_turns_in_order(self, rot: Rotation, at: datetime, k: int) -> None:
        shifts = list(rot.shifts(at, at + rot.length * (k + 2) * 2))
        full = [s for s in shifts[1:-1]]
        for a, b in itertools.pairwise(full):
            if len(rot.members) > 1:
                assert rot.members.index(b.member) == (rot.members.index(a.member) + 1) % len(
                    rot.members
                )


class TestHandOffsAcrossDst:
    def test_weekly_rotation_keeps_monday_nine_in_new_york(self) -> None:
        rot = Rotation("America/New_York", datetime(2025, 3, 3, 9, 0), timedelta(days=7), (1, 2))
        first = rot.shift_at(utc(2025, 3, 5, 12))
        assert first is not None
        assert (first.member, first.start, first.end) == (
            1,
            utc(2025, 3, 3, 14),
            utc(2025, 3, 10, 13),
        )
        assert first.end - first.start == timedelta(hours=167)  # an hour shorter
        second = rot.shift_at(utc(2025, 3, 10, 13))
        assert second is not None and second.member == 2
        # Still 09:00 in the autumn: an hour longer across the fall-back.
        autumn = rot.shift_at(utc(2025, 11, 1, 12))
        assert autumn is not None
        assert autumn.end == utc(2025, 11, 3, 14) and autumn.end - autumn.start == timedelta(
            hours=169
        )

    def test_daily_hand_off_in_the_fall_back_hour_happens_once(self) -> None:
        rot = Rotation(
            "America/New_York", datetime(2025, 10, 30, 1, 30), timedelta(days=1), (1, 2, 3)
        )
        boundaries = [s.start for s in rot.shifts(utc(2025, 11, 1, 12), utc(2025, 11, 4, 12))]
        assert boundaries[1] == utc(2025, 11, 2, 5, 30)  # the first 01:30 (EDT)
        assert sorted(boundaries) == boundaries and len(set(boundaries)) == len(boundaries)

    def test_twelve_hour_shifts_keep_nine_and_twenty_one_in_berlin(self) -> None:
        rot = Rotation("Europe/Berlin", datetime(2025, 3, 29, 9, 0), timedelta(hours=12), (1, 2))
        starts = [s.start for s in rot.shifts(utc(2025, 3, 29, 9), utc(2025, 3, 31, 9))]
        local = [s.astimezone(zone("Europe/Berlin")).time() for s in starts]
        assert set(local[1:]) == {time(9, 0), time(21, 0)}

    def test_before_the_start_nobody_is_on_call(self) -> None:
        rot = Rotation("UTC", datetime(2025, 3, 3, 9, 0), timedelta(days=1), (1,))
        assert rot.shift_at(utc(2025, 3, 3, 8, 59)) is None


class TestLayers:
    def schedule(self, **kw: object) -> Schedule:
        primary = Layer(
            1, "primary", Rotation("UTC", datetime(2025, 3, 3, 9), timedelta(days=7), (10, 11))
        )
        nights = Layer(
            2, "nights", Rotation("UTC", datetime(2025, 3, 3, 9), timedelta(days=1), (20, 21)),
            restriction=Calendar.business_hours(
                {d: [["00:00", "08:00"], ["20:00", "24:00"]] for d in
                 ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
            ),
        )  # fmt: skip
        return Schedule(layers=(primary, nights), manager=99, **kw)  # type: ignore[arg-type]

    def test_responders_in_layer_order_then_the_manager(self) -> None:
        day = self.schedule().responders(utc(2025, 3, 4, 12))
        assert [(r.person, r.source) for r in day] == [(10, "rotation"), (99, "manager")]
        night = self.schedule().responders(utc(2025, 3, 4, 22))
        assert [r.person for r in night] == [10, 21, 99]
        assert night[1].until == utc(2025, 3, 5, 0)  # the night window closes at midnight
        assert self.schedule().on_call(utc(2025, 3, 4, 22)) == 10

    def test_override_replaces_a_layer_for_its_period(self) -> None:
        swap = Override(person=11, start=utc(2025, 3, 4, 10), end=utc(2025, 3, 4, 18))
        schedule = self.schedule(overrides=(swap,))
        assert schedule.on_call(utc(2025, 3, 4, 12)) == 11
        assert schedule.responders(utc(2025, 3, 4, 12))[0].until == utc(2025, 3, 4, 18)
        assert schedule.on_call(utc(2025, 3, 4, 18)) == 10
        night = Override(person=10, start=utc(2025, 3, 4, 20), end=utc(2025, 3, 5, 8), layer_id=2)
        # The night layer's override is the primary already: nobody is paged twice.
        assert [
            r.person for r in self.schedule(overrides=(night,)).responders(utc(2025, 3, 4, 22))
        ] == [10, 99]

    def test_timeline_merges_the_primary_shifts(self) -> None:
        swap = Override(person=11, start=utc(2025, 3, 4, 10), end=utc(2025, 3, 4, 18))
        shifts = self.schedule(overrides=(swap,)).timeline(utc(2025, 3, 3, 9), utc(2025, 3, 17, 9))
        assert [(s.member, s.start, s.end) for s in shifts] == [
            (10, utc(2025, 3, 3, 9), utc(2025, 3, 4, 10)),
            (11, utc(2025, 3, 4, 10), utc(2025, 3, 4, 18)),
            (10, utc(2025, 3, 4, 18), utc(2025, 3, 10, 9)),
            (11, utc(2025, 3, 10, 9), utc(2025, 3, 17, 9)),
        ]

    def test_rotation_validation(self) -> None:
        with pytest.raises(ValueError):
            Rotation("UTC", datetime(2025, 1, 1), timedelta(minutes=30), (1,))
        with pytest.raises(ValueError):
            Rotation("UTC", datetime(2025, 1, 1, tzinfo=UTC), timedelta(days=1), (1,))
        with pytest.raises(ValueError):
            rotation_length("custom", None)
