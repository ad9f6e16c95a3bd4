"""The escalation engine through services and the worker: Table 4, clocks, pauses,
severity changes, reopening, downtime."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from servicedesk.core.models import DueRun, RowState
from servicedesk.core.worker import Worker
from servicedesk.escalation import engine
from servicedesk.escalation.models import (
    BusinessCalendar,
    ClockStatus,
    EmergencyMeeting,
    EscalationStep,
    IncidentEscalation,
)
from servicedesk.incidents import services
from servicedesk.testing.org import Org

from .helpers import (
    T0,
    at,
    create,
    due_at,
    events,
    item,
    minutes,
    policy,
    refresh,
    run_worker,
    steps_log,
)

pytestmark = pytest.mark.django_db

SEV1: dict[str, Any] = {"affected_users": 60}
SEV3: dict[str, Any] = {"affected_users": 3}


class TestTable4:
    def test_the_default_matrix_ships(self) -> None:
        sev1 = policy(1)
        assert (sev1.respond_within, sev1.resolve_within, sev1.offsets) == (900, 7200, "per_step")
        assert sev1.calendar.kind == "24x7"
        assert [(s.kind, s.support_level, s.after) for s in sev1.steps.all()] == [
            ("assign", 1, 0), ("assign", 2, 0), ("assign", 3, 1800),
            ("notify_manager", None, 1800), ("emergency_meeting", None, 0),
        ]  # fmt: skip
        assert policy(3).resolve_within == 8 * 3600
        assert policy(4).resolve_within > policy(3).resolve_within

    def test_creation_starts_the_clocks_and_one_timer(self, org: Org) -> None:
        incident = create(org, **SEV1)
        assert incident.severity == 1
        incident = refresh(incident)
        assert incident.respond_by == T0 + minutes(15)
        assert incident.resolve_by == T0 + minutes(120)
        assert due_at(incident) == T0  # the 2nd line at once
        state = IncidentEscalation.objects.get(incident=incident)
        assert state.status == ClockStatus.RUNNING and state.snapshot["severity"] == 1
        # The clocks add no event of their own to the timeline.
        assert [e.type for e in events(incident)] == ["created"]

    def test_severity_1_walks_the_whole_matrix(self, org: Org) -> None:
        incident = create(org, **SEV1)
        run_worker(T0)
        incident = refresh(incident)
        assert (incident.support_level, incident.assigned_group) == (2, org.net_ops)
        assert steps_log(incident) == [(1, "assign", "skipped"), (2, "assign", "done")]
        escalated = events(incident, "escalated")[0].payload
        assert (escalated["kind"], escalated["reason"], escalated["automatic"]) == (
            "functional", "time_expired", True,
        )  # fmt: skip
        # Nobody responds: the respond clock's thresholds, then the 3rd line at +30.
        run_worker(T0 + minutes(30))
        incident = refresh(incident)
        assert incident.assigned_group == org.net_eng
        thresholds = [
            (e.payload["clock"], e.payload["percent"]) for e in events(incident, "sla_threshold")
        ]
        assert thresholds == [("respond", 50), ("respond", 75), ("respond", 90), ("respond", 100)]
        assert (
            events(incident, "sla_threshold")[-1].payload["due_at"]
            == (T0 + minutes(15)).isoformat()
        )
        # +60: the 1st manager of the chain coordinates, and the emergency meeting.
        run_worker(T0 + minutes(60))
        incident = refresh(incident)
        assert incident.coordinator == org.net_eng_manager
        hierarchical = events(incident, "escalated")[-1].payload
        assert (hierarchical["kind"], hierarchical["automatic"]) == ("hierarchical", True)
        meeting = EmergencyMeeting.objects.get(incident=incident)
        people = set(meeting.participants.all())
        assert {org.net_eng_manager, org.net_ops_manager, org.desk_manager} <= people
        payload = events(incident, "emergency_meeting")[0].payload
        assert payload["meeting_id"] == meeting.pk and len(payload["participants"]) == len(people)
        assert [s for s, *_ in steps_log(incident)] == [1, 2, 3, 4, 5]
        # Only the resolve clock's thresholds remain.
        assert due_at(incident) == T0 + minutes(90)
        run_worker(T0 + minutes(200))
        percents = [e.payload["percent"] for e in events(incident, "sla_threshold")
                    if e.payload["clock"] == "resolve"]  # fmt: skip
        assert percents == [50, 75, 90, 100]
        state = IncidentEscalation.objects.get(incident=incident)
        assert state.resolve_breached_at == T0 + minutes(120)
        assert due_at(incident) is None

    def test_resolving_stops_the_clocks_and_skips_the_rest(self, org: Org) -> None:
        incident = create(org, **SEV3)
        run_worker(T0)
        with at(T0 + minutes(5)):
            services.do_accept(incident=incident.pk, actor=org.desk_agent)
        with at(T0 + minutes(20)):
            services.do_resolve(
                incident=incident.pk, actor=org.desk_agent, resolution_code="workaround",
                resolution="Restarted the service.",
            )  # fmt: skip
        assert item(incident).state == RowState.CANCELLED  # type: ignore[union-attr]
        assert run_worker(T0 + minutes(300)) == 0
        incident = refresh(incident)
        assert incident.respond_by == T0 + minutes(60)
        assert incident.resolve_by == T0 + minutes(480)
        state = IncidentEscalation.objects.get(incident=incident)
        assert state.status == ClockStatus.STOPPED
        assert (state.respond_elapsed, state.resolve_elapsed) == (300.0, 1200.0)
        assert steps_log(incident) == [(1, "assign", "skipped")]

    def test_manual_and_timer_escalations_give_the_same_event(self, org: Org) -> None:
        manual = create(org, **SEV3)
        with at(T0 + minutes(1)):
            services.do_escalate(incident=manual.pk, actor=org.desk_agent, reason="time_expired")
        timer = create(org, **SEV3)
        run_worker(T0 + minutes(30))
        by_hand = events(manual, "escalated")[0]
        by_timer = events(timer, "escalated")[0]
        assert set(by_hand.payload) == set(by_timer.payload)
        assert (by_hand.payload["to_level"], by_timer.payload["to_level"]) == (2, 2)
        assert (by_hand.payload["automatic"], by_timer.payload["automatic"]) == (False, True)
        assert by_timer.actor is None and by_hand.actor == org.desk_agent
        # The manual escalation already reached the 2nd line: its timer step skips.
        run_worker(T0 + minutes(30))
        assert (2, "assign", "skipped") in steps_log(manual)


class TestPauses:
    def test_pending_on_the_user_pauses_and_accept_resumes(self, org: Org) -> None:
        incident = create(org, **SEV3)
        run_worker(T0)
        with at(T0 + minutes(10)):
            services.do_set_pending(
                incident=incident.pk, actor=org.desk_agent, reason="awaiting_user"
            )
        paused = refresh(incident)
        assert (paused.respond_by, paused.resolve_by) == (None, None)
        assert due_at(incident) is None
        # The 2nd-line step (due at +30) does not fire while pending.
        assert run_worker(T0 + minutes(100)) == 0
        with at(T0 + minutes(100)):
            services.do_accept(incident=incident.pk, actor=org.desk_agent)
        resumed = refresh(incident)
        # 10 minutes ran before the pause: the rest counts from the resume.
        assert resumed.resolve_by == T0 + minutes(100 + 470)
        assert resumed.respond_by == T0 + minutes(60 + 90)  # stopped by the accept
        assert due_at(incident) == T0 + minutes(100 + 20)
        run_worker(T0 + minutes(120))
        assert refresh(incident).support_level == 2

    def test_pending_on_a_vendor_pauses_too_on_a_problem_not(self, org: Org) -> None:
        vendor = create(org, **SEV3)
        problem = create(org, **SEV3)
        with at(T0 + minutes(5)):
            services.do_set_pending(
                incident=vendor.pk, actor=org.desk_agent, reason="awaiting_vendor"
            )
            services.do_set_pending(
                incident=problem.pk, actor=org.desk_agent, reason="awaiting_problem"
            )
        assert IncidentEscalation.objects.get(incident=vendor).status == ClockStatus.PAUSED
        # Pending on a problem: the clocks run (the user is still without service)...
        held = IncidentEscalation.objects.get(incident=problem)
        assert held.status == ClockStatus.RUNNING and held.steps_held
        assert refresh(problem).resolve_by == T0 + minutes(480)
        run_worker(T0 + minutes(65))
        thresholds = [
            (e.payload["clock"], e.payload["percent"]) for e in events(problem, "sla_threshold")
        ]
        assert ("respond", 100) in thresholds
        # ...but no step pulls it out of pending while problem management owns it.
        problem = refresh(problem)
        assert (problem.status, problem.support_level) == ("pending", 1)
        assert refresh(vendor).support_level == 1
        with at(T0 + minutes(70)):
            services.do_accept(incident=problem.pk, actor=org.desk_agent)
        assert due_at(problem) == T0  # the held steps were due long ago: at once
        run_worker(T0 + minutes(70))
        assert refresh(problem).support_level == 2
        assert not IncidentEscalation.objects.get(incident=problem).steps_held

    def test_resolving_while_paused_keeps_an_honest_deadline(self, org: Org) -> None:
        incident = create(org, **SEV3)
        with at(T0 + minutes(10)):
            services.do_set_pending(
                incident=incident.pk, actor=org.desk_agent, reason="awaiting_user"
            )
        with at(T0 + minutes(600)):
            services.do_resolve(
                incident=incident.pk, actor=org.desk_agent, resolution_code="user_instruction",
                resolution="The user confirmed it works.",
            )  # fmt: skip
        incident = refresh(incident)
        # Not breached: 10 of 480 minutes ran; resolved before the deadline it had.
        assert incident.resolved_at is not None and incident.resolve_by is not None
        assert incident.resolved_at <= incident.resolve_by
        state = IncidentEscalation.objects.get(incident=incident)
        assert state.resolve_elapsed == 600.0 and state.resolve_breached_at is None


class TestChanges:
    def test_severity_change_recomputes_and_catches_up(self, org: Org) -> None:
        incident = create(org, **SEV3)
        run_worker(T0 + minutes(30))
        assert refresh(incident).support_level == 2
        with at(T0 + minutes(40)):
            services.do_update_incident(
                incident=incident.pk, actor=org.desk_agent, changes={"affected_users": 60}
            )
        incident = refresh(incident)
        assert incident.severity == 1
        assert incident.resolve_by == T0 + minutes(120)
        state = IncidentEscalation.objects.get(incident=incident)
        assert (state.generation, state.snapshot["severity"]) == (2, 1)
        # The 3rd-line step (+30 under severity 1) is already due: at once.
        assert due_at(incident) == T0 + minutes(40)
        run_worker(T0 + minutes(40))
        incident = refresh(incident)
        assert incident.support_level == 3
        generation2 = list(
            EscalationStep.objects.filter(incident=incident, generation=2).values_list(
                "index", "state"
            )
        )
        assert generation2 == [(0, "skipped"), (1, "skipped"), (2, "done")]
        run_worker(T0 + minutes(60))
        assert refresh(incident).coordinator == org.net_eng_manager

    def test_lower_severity_rearms_thresholds(self, org: Org) -> None:
        incident = create(org, **SEV1)
        run_worker(T0 + minutes(70))  # resolve clock at 58%: its 50% fired
        with at(T0 + minutes(70)):
            services.do_update_incident(
                incident=incident.pk, actor=org.desk_agent,
                changes={"severity": 3, "severity_reason": "Only the test system is affected"},
            )  # fmt: skip
        state = IncidentEscalation.objects.get(incident=incident)
        assert state.thresholds["resolve"] == []  # 70 of 480 minutes: under 50% again
        assert refresh(incident).resolve_by == T0 + minutes(480)

    def test_reopen_resumes_where_the_clock_stopped(self, org: Org) -> None:
        incident = create(org, **SEV3)
        run_worker(T0)
        with at(T0 + minutes(20)):
            services.do_resolve(
                incident=incident.pk, actor=org.desk_agent, resolution_code="workaround",
                resolution="Cleared the print queue.",
            )  # fmt: skip
        with at(T0 + minutes(300)):
            services.do_reopen(incident=incident.pk, actor=org.reporter, reason="It jams again.")
        incident = refresh(incident)
        assert incident.resolve_by == T0 + minutes(300 + 460)
        assert due_at(incident) == T0 + minutes(300 + 10)  # the 2nd line at 30 clock minutes
        run_worker(T0 + minutes(310))
        assert refresh(incident).support_level == 2

    def test_reopen_after_resolving_from_a_problem_wait_releases_the_steps(self, org: Org) -> None:
        incident = create(org, **SEV3)
        run_worker(T0)
        with at(T0 + minutes(5)):
            services.do_set_pending(
                incident=incident.pk, actor=org.desk_agent, reason="awaiting_problem"
            )
        with at(T0 + minutes(10)):
            services.do_resolve(
                incident=incident.pk, actor=org.desk_agent, resolution_code="known_error",
                resolution="The problem's fix was deployed.",
            )  # fmt: skip
        with at(T0 + minutes(60)):
            services.do_reopen(incident=incident.pk, actor=org.reporter)
        assert not IncidentEscalation.objects.get(incident=incident).steps_held
        assert due_at(incident) == T0 + minutes(60 + 20)
        run_worker(T0 + minutes(80))
        assert refresh(incident).support_level == 2

    def test_cancel_stops_everything(self, org: Org) -> None:
        incident = create(org, **SEV1)
        with at(T0 - minutes(0)):
            services.do_cancel(incident=incident.pk, actor=org.desk_agent, reason="duplicate")
        assert run_worker(T0 + minutes(500)) == 0
        assert IncidentEscalation.objects.get(incident=incident).status == ClockStatus.STOPPED

    def test_incident_without_policy(self, org: Org) -> None:
        from servicedesk.escalation.models import EscalationPolicy

        EscalationPolicy.objects.filter(severity=3).update(active=False)
        incident = create(org, **SEV3)
        assert not IncidentEscalation.objects.filter(incident=incident).exists()
        assert refresh(incident).resolve_by is None and item(incident) is None
        with at(T0 + minutes(5)):
            services.do_update_incident(
                incident=incident.pk, actor=org.desk_agent, changes={"affected_users": 20}
            )
        assert refresh(incident).resolve_by == T0 + minutes(5 + 240 - 5)


class TestOtherListeners:
    def test_a_change_made_during_a_step_is_followed(self, org: Org) -> None:
        """Another app's listener may change the incident while a timer step runs
        (here: it sets it pending on a vendor); the clocks follow that change."""
        from servicedesk.core import events as bus

        def wait_for_vendor(event: Any) -> None:
            if event.type == "escalated" and event.payload.get("automatic"):
                services.do_set_pending(
                    incident=event.incident_id, actor=None, reason="awaiting_vendor"
                )

        incident = create(org, **SEV3)
        bus.subscribe("incident")(wait_for_vendor)
        try:
            run_worker(T0 + minutes(30))
        finally:
            bus._listeners["incident"].remove(wait_for_vendor)
        state = IncidentEscalation.objects.get(incident=incident)
        assert (state.status, state.pause_reason) == (ClockStatus.PAUSED, "awaiting_vendor")
        assert refresh(incident).resolve_by is None
        run_worker(T0 + minutes(300))
        assert refresh(incident).support_level == 2  # the 3rd-line step waits


class TestDowntime:
    def test_overdue_steps_fire_once_in_due_order_after_downtime(self, org: Org) -> None:
        incidents = [create(org, T0 + minutes(i), **SEV1) for i in range(3)]
        # No worker for three hours; one run catches up everything.
        run_worker(T0 + minutes(180))
        for incident in incidents:
            assert [s for s, *_ in steps_log(incident)] == [1, 2, 3, 4, 5]
            kinds = [e.payload["kind"] for e in events(incident, "escalated")]
            assert kinds == ["functional", "functional", "hierarchical"]
        first_runs = list(DueRun.objects.order_by("id").values_list("scheduled_at", flat=True))[:3]
        assert first_runs == sorted(first_runs)
        # Running again performs nothing twice.
        assert run_worker(T0 + minutes(180)) == 0
        assert EscalationStep.objects.count() == 15


class TestBusinessHours:
    def test_steps_wait_for_opening_hours(self, org: Org) -> None:
        office = BusinessCalendar.objects.get(name="Business hours, Moscow")
        sev3 = policy(3)
        sev3.calendar = office
        sev3.save()
        # Friday 14 March 2025, 17:45 Moscow (14:45 UTC).
        friday = T0.replace(day=14, hour=14, minute=45)
        incident = create(org, friday, **SEV3)
        assert due_at(incident) == friday  # the initial step: open now
        run_worker(friday)
        # 15 minutes on Friday, 15 on Monday from 09:00: 09:15 Moscow, 06:15 UTC.
        assert due_at(incident) == friday.replace(day=17, hour=6, minute=15)
        assert refresh(incident).respond_by == friday.replace(day=17, hour=6, minute=45)
        assert run_worker(friday.replace(day=15, hour=21)) == 0  # Saturday night: nothing
        run_worker(friday.replace(day=17, hour=6, minute=15))
        assert refresh(incident).support_level == 2


class TestChunkedWorker:
    """A worker performing several timers per transaction (``--chunk``) locks their
    incidents in one statement and fires the same steps as one per transaction."""

    def test_a_chunk_fires_each_incident_once(self, org: Org) -> None:
        made = [create(org, **SEV3, title=f"Chunk {i}") for i in range(4)]
        worker = Worker(name="chunked", lease_seconds=60, chunk=10)
        with at(T0 + minutes(30)), CaptureQueriesContext(connection) as captured:
            assert worker.run_due_once() == 4
        # The engine reads an incident with its clocks (a join no other query has).
        locks = [
            q["sql"] for q in captured.captured_queries
            if q["sql"].startswith("SELECT") and 'JOIN "escalation_incidentescalation"' in q["sql"]
        ]  # fmt: skip
        assert len(locks) == 1  # the chunk's incidents, in one statement
        assert '"incidents_incident"."id" IN (' in locks[0]
        # ... which the steps' services act on without reading them again
        # (``holding``). PostgreSQL locks them first, without joins, so the read
        # sees the clocks as the lock's last holder left them (core.locking).
        reads = [
            q["sql"] for q in captured.captured_queries
            if q["sql"].startswith("SELECT") and 'FROM "incidents_incident"' in q["sql"]
        ]  # fmt: skip
        lock_first = connection.features.has_select_for_update
        assert len(reads) == 1 + lock_first and reads[-1] == locks[0]
        if lock_first:
            assert "FOR UPDATE" in reads[0] and "JOIN" not in reads[0]
            assert "FOR UPDATE" not in locks[0]
        # And a pinned number of statements for the whole chunk (4 steps, 2 events each).
        assert len(captured.captured_queries) <= 145
        assert worker.stats.performed == 4
        for incident in made:
            incident = refresh(incident)
            assert (incident.support_level, incident.assigned_group) == (2, org.net_ops)
            assert steps_log(incident)[-1] == (2, "assign", "done")
            assert EscalationStep.objects.filter(incident=incident, index=1).count() == 1
            assert DueRun.objects.filter(item=item(incident)).count() == 1
        with at(T0 + minutes(30)):
            assert worker.run_due_once() == 0

    def test_a_busy_incident_in_a_chunk_is_retried_not_skipped(self, org: Org) -> None:
        first, busy = (create(org, **SEV3, title=f"Chunk {i}") for i in range(2))
        # The incident is being changed (its lock is held) while the chunk runs:
        # the chunk's lock skips it, and its perform reschedules it in a second.
        chunk = engine._prefetched
        original = engine.prefetched

        @contextmanager
        def without_busy(ids: list[int]) -> Iterator[None]:
            with original([pk for pk in ids if pk != busy.pk]):
                found = chunk.get()
                assert found is not None and busy.pk not in found
                yield

        engine.prefetched = without_busy  # type: ignore[assignment]
        try:
            with at(T0 + minutes(30)):
                Worker(name="chunked", chunk=10).run_due_once()
        finally:
            engine.prefetched = original
        assert steps_log(refresh(first))[-1] == (2, "assign", "done")
        # Not in the prefetched set: looked up on its own (and found here, since
        # nothing really holds it), so it fires too, exactly once.
        assert steps_log(refresh(busy))[-1] == (2, "assign", "done")
        assert EscalationStep.objects.filter(incident=busy, index=1).count() == 1
