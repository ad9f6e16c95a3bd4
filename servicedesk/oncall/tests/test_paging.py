"""Schedules, who is on call, and paging until someone acknowledges."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from servicedesk.accounts.models import User
from servicedesk.core.errors import Conflict, FieldError, PermissionDenied
from servicedesk.escalation.tests.helpers import T0, at, create, events, minutes, run_worker
from servicedesk.incidents import services as incidents
from servicedesk.oncall import selectors, services
from servicedesk.oncall.models import OnCallSchedule, Page, PageState
from servicedesk.testing.factories import UserFactory
from servicedesk.testing.org import Org

pytestmark = pytest.mark.django_db


def net_ops_schedule(
    org: Org, time_zone: str = "UTC", secondary: bool = False, **layer: object
) -> OnCallSchedule:
    """Network Operations: the agent and the problem manager take turns weekly
    (Monday 09:00); with ``secondary``, the other one backs the primary up. The
    group's manager keeps the schedule."""
    layer.setdefault("members", [org.net_ops_agent, org.problem_manager])
    layer.setdefault("starts_on", date(2025, 3, 3))
    layers = [services.LayerInput(name="primary", **layer)]  # type: ignore[arg-type]
    if secondary:
        layers.append(services.LayerInput(
            name="secondary", members=[org.problem_manager, org.net_ops_agent],
            starts_on=date(2025, 3, 3),
        ))  # fmt: skip
    return services.do_create_schedule(
        actor=org.net_ops_manager, group=org.net_ops, time_zone=time_zone, layers=layers
    )


class TestSchedules:
    def test_the_manager_keeps_the_schedule(self, org: Org) -> None:
        with pytest.raises(PermissionDenied):
            services.do_create_schedule(actor=org.net_ops_agent, group=org.net_ops)
        schedule = net_ops_schedule(org)
        with pytest.raises(Conflict):
            services.do_create_schedule(actor=org.admin, group=org.net_ops)
        assert schedule.name == "Network Operations on call"
        with pytest.raises(PermissionDenied):
            services.do_add_override(
                actor=org.mail_ops_manager, schedule=schedule, person=org.net_ops_agent,
                starts_at=T0, ends_at=T0 + minutes(60),
            )  # fmt: skip

    def test_validation(self, org: Org) -> None:
        with pytest.raises(FieldError) as err:
            services.do_create_schedule(actor=org.admin, group=org.net_ops, time_zone="Mars/Base")
        assert err.value.loc == ["body", "time_zone"]
        with pytest.raises(FieldError) as err:
            net_ops_schedule(org, rotation="custom", shift_length=600)
        assert err.value.loc == ["body", "layers", "0", "shift_length"]
        with pytest.raises(FieldError):
            net_ops_schedule(org, members=[org.reporter])

    def test_who_is_on_call_with_overrides(self, org: Org) -> None:
        schedule = net_ops_schedule(org)
        monday = T0.replace(hour=10)  # 10 March 2025: the second week
        assert selectors.on_call_person(org.net_ops, monday) == org.problem_manager
        assert (
            selectors.on_call_person(org.net_ops, monday - timedelta(days=2)) == org.net_ops_agent
        )
        services.do_add_override(
            actor=org.net_ops_manager, schedule=schedule, person=org.net_ops_agent,
            starts_at=monday, ends_at=monday + minutes(120), reason="swap",
        )  # fmt: skip
        who = selectors.responders(org.net_ops, monday + minutes(1))
        assert [(r.person, r.source) for r in who] == [
            (org.net_ops_agent, "override"), (org.net_ops_manager, "manager"),
        ]  # fmt: skip
        assert who[0].until == monday + minutes(120)

    def test_hand_off_across_dst_in_new_york(self, org: Org) -> None:
        net_ops_schedule(org, time_zone="America/New_York", handoff_time=time(9, 0))
        # 9 March 2025: the clocks went forward; the hand-off is Monday 09:00 EDT = 13:00 UTC.
        before = T0.replace(hour=12, minute=59)
        assert selectors.on_call_person(org.net_ops, before) == org.net_ops_agent
        assert selectors.on_call_person(org.net_ops, before + minutes(1)) == org.problem_manager

    def test_group_without_schedule_pages_its_manager(self, org: Org) -> None:
        who = selectors.responders(org.mail_ops, T0)
        assert [(r.person, r.source) for r in who] == [(org.mail_ops_manager, "manager")]
        assert selectors.on_call_person(org.mail_ops, T0) is None


class TestPaging:
    def page(self, org: Org) -> Page:
        net_ops_schedule(org, secondary=True)
        incident = create(org, affected_users=3)
        with at(T0):
            return services.do_page(
                incident=incident, group=org.net_ops, actor=org.desk_agent, ack_within=300
            )

    def test_unacknowledged_page_pages_the_next_responder_then_the_manager(self, org: Org) -> None:
        page = self.page(org)
        assert (page.person, page.attempt, page.state) == (org.net_ops_agent, 1, PageState.PAGING)
        assert page.responders == [
            org.net_ops_agent.pk,
            org.problem_manager.pk,
            org.net_ops_manager.pk,
        ]
        run_worker(T0 + minutes(4))
        assert Page.objects.get(pk=page.pk).attempt == 1
        run_worker(T0 + minutes(5))
        page.refresh_from_db()
        assert (page.person, page.attempt) == (org.problem_manager, 2)
        run_worker(T0 + minutes(10))
        run_worker(T0 + minutes(15))
        page.refresh_from_db()
        assert page.state == PageState.EXHAUSTED
        assert page.attempts.count() == 3
        paged = [
            (e.payload["person"]["id"], e.payload["attempt"])
            for e in events(page.incident, "paged")
        ]
        assert paged == [
            (org.net_ops_agent.pk, 1),
            (org.problem_manager.pk, 2),
            (org.net_ops_manager.pk, 3),
        ]
        exhausted = events(page.incident, "page_exhausted")[0].payload
        assert (exhausted["page_id"], exhausted["attempts"]) == (page.pk, 3)
        run_worker(T0 + minutes(60))
        assert page.attempts.count() == 3

    def test_acknowledging_stops_further_pages(self, org: Org) -> None:
        page = self.page(org)
        run_worker(T0 + minutes(5))
        with pytest.raises(PermissionDenied):
            services.do_acknowledge(page=page, actor=org.mail_engineer)
        with at(T0 + minutes(6)):
            services.do_acknowledge(page=page, actor=org.problem_manager)
        run_worker(T0 + minutes(60))
        assert page.attempts.count() == 2
        page.refresh_from_db()
        assert (page.state, page.acknowledged_by, page.attempt) == (
            PageState.ACKNOWLEDGED, org.problem_manager, 2,
        )  # fmt: skip
        ack = events(page.incident, "page_acknowledged")[0]
        assert (
            ack.payload["person"]["id"] == org.problem_manager.pk
            and ack.actor == org.problem_manager
        )
        # Acknowledging twice is harmless; the exhausted or cancelled cannot be.
        services.do_acknowledge(page=page, actor=org.problem_manager)

    def test_resolving_the_incident_stops_paging(self, org: Org) -> None:
        page = self.page(org)
        with at(T0 + minutes(1)):
            incidents.do_resolve(
                incident=page.incident_id, actor=org.desk_agent, resolution_code="workaround",
                resolution="Rebooted the switch.",
            )  # fmt: skip
        page.refresh_from_db()
        assert page.state == PageState.CANCELLED
        assert run_worker(T0 + minutes(60)) == 0  # the escalation timer stopped too
        assert page.attempts.count() == 1
        with pytest.raises(Conflict):
            services.do_acknowledge(page=page, actor=org.net_ops_agent)

    def test_inactive_responders_are_passed_over(self, org: Org) -> None:
        page = self.page(org)
        org.problem_manager.is_active = False
        org.problem_manager.save()
        run_worker(T0 + minutes(5))
        page.refresh_from_db()
        assert (page.person, page.attempt) == (org.net_ops_manager, 3)

    def test_nobody_to_page(self, org: Org) -> None:
        lonely: User = UserFactory(username="lonely", role="agent")  # type: ignore[assignment]
        from servicedesk.accounts.models import SupportGroup

        group = SupportGroup.objects.create(name="Night shift", level=2, is_active=False)
        group.members.add(lonely)
        incident = create(org, affected_users=3)
        with at(T0):
            page = services.do_page(incident=incident, group=group, actor=None, ack_within=60)
        assert page.state == PageState.EXHAUSTED and page.person is None
        assert events(incident, "page_exhausted")[0].payload["attempts"] == 0
