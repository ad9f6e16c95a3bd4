"""Quiet hours: non-urgent e-mail to a person waits for their working time."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import transaction
from hypothesis import given, settings
from hypothesis import strategies as st

from servicedesk.core import events
from servicedesk.core.models import OutboxMessage
from servicedesk.incidents import services as incidents
from servicedesk.notifications import services
from servicedesk.notifications.quiet import WorkingHours, is_working, next_working_moment
from servicedesk.notifications.samples import SampleEvent
from servicedesk.testing.org import Org

MOSCOW = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = WorkingHours(days=frozenset(range(5)), starts=time(8), ends=time(18), time_zone=MOSCOW)


class TestWorkingHours:
    def test_friday_evening_waits_for_monday_morning(self) -> None:
        friday_evening = datetime(2030, 3, 8, 19, 0, tzinfo=MOSCOW)
        assert next_working_moment(OFFICE, friday_evening) == datetime(
            2030, 3, 11, 8, 0, tzinfo=MOSCOW
        )

    def test_before_work_waits_until_it_starts_the_same_day(self) -> None:
        early = datetime(2030, 3, 6, 6, 30, tzinfo=MOSCOW)
        assert next_working_moment(OFFICE, early) == datetime(2030, 3, 6, 8, 0, tzinfo=MOSCOW)

    def test_working_time_does_not_wait(self) -> None:
        assert next_working_moment(OFFICE, datetime(2030, 3, 6, 17, 59, tzinfo=MOSCOW)) is None
        assert next_working_moment(OFFICE, datetime(2030, 3, 6, 18, 0, tzinfo=MOSCOW)) is not None

    def test_overnight_shift_belongs_to_the_day_it_starts(self) -> None:
        nights = WorkingHours(
            days=frozenset({0, 1, 2, 3}), starts=time(22), ends=time(6), time_zone=MOSCOW
        )  # Monday to Thursday nights: the shift ends on Friday morning
        assert is_working(nights, datetime(2030, 3, 8, 5, 0, tzinfo=MOSCOW))  # Friday 05:00
        assert not is_working(nights, datetime(2030, 3, 9, 5, 0, tzinfo=MOSCOW))  # Saturday
        assert next_working_moment(nights, datetime(2030, 3, 8, 12, 0, tzinfo=MOSCOW)) == (
            datetime(2030, 3, 11, 22, 0, tzinfo=MOSCOW)
        )

    def test_a_start_inside_the_spring_forward_gap(self) -> None:
        # 2030-03-31 is the last Sunday of March: Berlin skips 02:00-03:00.
        sunday = WorkingHours(
            days=frozenset({6}), starts=time(2, 30), ends=time(9), time_zone=BERLIN
        )
        result = next_working_moment(sunday, datetime(2030, 3, 31, 0, 30, tzinfo=BERLIN))
        assert result == datetime(2030, 3, 31, 1, 0, tzinfo=UTC)  # 03:00 summer time, the jump
        assert is_working(sunday, result)

    def test_no_working_days_means_never_held(self) -> None:
        anytime = WorkingHours(days=frozenset(), starts=time(8), ends=time(18), time_zone=MOSCOW)
        assert next_working_moment(anytime, datetime(2030, 3, 9, 3, 0, tzinfo=MOSCOW)) is None


ZONES = ["UTC", "Europe/Moscow", "Europe/Berlin", "America/New_York", "Asia/Kolkata"]


@settings(max_examples=60, deadline=None)
@given(
    moment=st.datetimes(
        min_value=datetime(2025, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
    ),
    zone=st.sampled_from(ZONES),
    days=st.frozensets(st.integers(0, 6), min_size=1),
    starts=st.times(),
    ends=st.times(),
)
def test_the_next_working_moment_is_the_first_one(
    moment: datetime, zone: str, days: frozenset[int], starts: time, ends: time
) -> None:
    hours = WorkingHours(days=days, starts=starts, ends=ends, time_zone=ZoneInfo(zone))
    result = next_working_moment(hours, moment)
    if result is None:
        assert is_working(hours, moment)
        return
    assert not is_working(hours, moment)
    assert moment < result <= moment + timedelta(days=8)
    assert is_working(hours, result)
    # Nothing in between is working time (sampled every 20 minutes, and just before).
    probe = moment + timedelta(minutes=20)
    while probe < result:
        assert not is_working(hours, probe), probe
        probe += timedelta(minutes=20)
    just_before = result - timedelta(seconds=1)
    assert just_before <= moment or not is_working(hours, just_before)


@pytest.mark.django_db
class TestQuietHoursInDelivery:
    FRIDAY_NIGHT = datetime(2030, 3, 8, 20, 0, tzinfo=MOSCOW)
    MONDAY_MORNING_UTC = datetime(2030, 3, 11, 5, 0, tzinfo=UTC)

    @pytest.fixture(autouse=True)
    def _quiet(self, settings: Any, org: Org) -> None:
        settings.SERVICEDESK_QUIET_HOURS = True
        for user in (org.reporter, org.net_engineer):
            user.time_zone = "Europe/Moscow"
            user.save()

    def mail_to(self, address: str) -> OutboxMessage:
        return OutboxMessage.objects.filter(channel="email", destination=address).latest("id")

    def test_non_urgent_mail_waits_in_app_does_not(self, org: Org) -> None:
        with time_machine.travel(self.FRIDAY_NIGHT, tick=False):
            incidents.do_create_incident(
                actor=org.desk_agent, title="Slow PC", reporter=org.reporter
            )
        assert self.mail_to(org.reporter.email).due_at == self.MONDAY_MORNING_UTC
        inapp = OutboxMessage.objects.get(channel="inapp")
        assert inapp.due_at == self.FRIDAY_NIGHT

    def test_severity_1_never_waits(self, org: Org) -> None:
        with time_machine.travel(self.FRIDAY_NIGHT, tick=False):
            incidents.do_create_incident(
                actor=org.desk_agent, title="Plant stopped", reporter=org.reporter,
                affected_users=80,
            )  # fmt: skip
        assert self.mail_to(org.reporter.email).due_at == self.FRIDAY_NIGHT

    def test_pages_never_wait(self, org: Org) -> None:
        with time_machine.travel(self.FRIDAY_NIGHT, tick=False):
            incident = incidents.do_create_incident(
                actor=org.desk_agent, title="Slow PC", reporter=org.reporter
            )
            with transaction.atomic():
                events.publish(
                    "incident",
                    SampleEvent(type="paged", subject=incident, payload={
                        "person": {"id": org.net_engineer.pk, "name": "x"}}),
                )  # fmt: skip
        assert self.mail_to(org.net_engineer.email).due_at == self.FRIDAY_NIGHT

    def test_own_hours_and_opting_out(self, org: Org) -> None:
        services.do_set_preferences(
            user=org.reporter, work_days=[4, 5], work_starts=time(19), work_ends=time(23)
        )
        with time_machine.travel(self.FRIDAY_NIGHT, tick=False):
            incidents.do_create_incident(actor=org.desk_agent, title="A", reporter=org.reporter)
        assert self.mail_to(org.reporter.email).due_at == self.FRIDAY_NIGHT
        services.do_set_preferences(user=org.reporter, work_days=[0], quiet_hours=False)
        with time_machine.travel(self.FRIDAY_NIGHT + timedelta(hours=6), tick=False):
            incidents.do_create_incident(actor=org.desk_agent, title="B", reporter=org.reporter)
        assert self.mail_to(org.reporter.email).due_at == self.FRIDAY_NIGHT + timedelta(hours=6)
