"""Problem services: life cycle, transitions, spans, links, candidates, scoring."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from servicedesk.core.errors import Conflict, FieldError, IllegalTransition, PermissionDenied
from servicedesk.incidents import services as incident_services
from servicedesk.incidents.models import Incident, IncidentEvent
from servicedesk.problems import candidates, scoring, services
from servicedesk.problems.models import (
    Candidate,
    Problem,
    ProblemEvent,
    ProblemSpan,
    SelectionFactor,
    Status,
)
from servicedesk.problems.transitions import TRANSITIONS
from servicedesk.testing.org import Org

pytestmark = pytest.mark.django_db


def incident(org: Org, **kw: object) -> Incident:
    kw.setdefault("title", "Cannot receive e-mail")
    kw.setdefault("reporter", org.reporter)
    return incident_services.do_create_incident(actor=kw.pop("actor", org.desk_agent), **kw)  # type: ignore[arg-type]


def problem(org: Org, **kw: object) -> Problem:
    kw.setdefault("title", "Mail delivery delays")
    kw.setdefault("service", org.mail)
    return services.do_create_problem(actor=kw.pop("actor", org.problem_manager), **kw)  # type: ignore[arg-type]


def types(p: Problem) -> list[str]:
    return list(
        ProblemEvent.objects.filter(problem=p).order_by("id").values_list("type", flat=True)
    )


def incident_types(i: Incident) -> list[str]:
    return list(
        IncidentEvent.objects.filter(incident=i).order_by("id").values_list("type", flat=True)
    )


class TestOpening:
    def test_owned_by_the_technologys_second_line(self, org: Org) -> None:
        p = problem(org)
        assert p.number == f"PRB-{p.pk:06d}"
        assert (p.technology, p.owner_group, p.assigned_group) == (
            org.email,
            org.mail_ops,
            org.mail_ops,
        )
        assert p.support_level == 2 and p.status == Status.NEW
        assert p.cause_estimate_hours == 40  # the configured default
        assert types(p) == ["created"]
        span = ProblemSpan.objects.get(problem=p)
        assert (span.group, span.support_level, span.ended_at) == (org.mail_ops, 2, None)

    def test_catalogue_from_the_first_incident(self, org: Org) -> None:
        i = incident(org, configuration_item=org.router, affected_users=12)
        p = services.do_create_problem(actor=org.problem_manager, title="Uplink", incidents=[i])
        assert (p.service, p.technology) == (org.internet, org.network)
        assert list(p.configuration_items.all()) == [org.router]
        assert list(p.user_groups.all()) == [org.finance]
        assert types(p) == ["created", "incident_linked"]
        assert incident_types(i)[-1] == "problem_linked"

    def test_end_users_cannot_open_problems(self, org: Org) -> None:
        with pytest.raises(PermissionDenied):
            problem(org, actor=org.reporter)

    def test_validation(self, org: Org) -> None:
        with pytest.raises(FieldError) as err:
            problem(org, priority=7)
        assert err.value.loc == ["body", "priority"]
        with pytest.raises(FieldError):
            problem(org, title="  ")


class TestTransitions:
    @pytest.mark.parametrize("status", list(TRANSITIONS))
    def test_every_state_allows_exactly_its_table(self, org: Org, status: str) -> None:
        targets: dict[str, Any] = {
            Status.UNDER_INVESTIGATION: lambda p: services.do_start_investigation(problem=p, actor=org.problem_manager),
            Status.DEFERRED: lambda p: services.do_defer(problem=p, actor=org.problem_manager, reason="later"),
            Status.ROOT_CAUSE_KNOWN: lambda p: services.do_record_root_cause(problem=p, actor=org.problem_manager, root_cause="x"),
            Status.RESOLVED: lambda p: services.do_resolve(problem=p, actor=org.problem_manager, resolution="fixed"),
            Status.CLOSED: lambda p: services.do_close(problem=p, actor=org.problem_manager, reason="done"),
        }  # fmt: skip
        paths: dict[str, list[str]] = {
            Status.NEW: [],
            Status.UNDER_INVESTIGATION: [Status.UNDER_INVESTIGATION],
            Status.DEFERRED: [Status.DEFERRED],
            Status.ROOT_CAUSE_KNOWN: [Status.UNDER_INVESTIGATION, Status.ROOT_CAUSE_KNOWN],
            Status.RESOLVED: [Status.UNDER_INVESTIGATION, Status.ROOT_CAUSE_KNOWN, Status.RESOLVED],
            Status.CLOSED: [Status.CLOSED],
        }
        for target in targets:
            p = problem(org)
            for step in paths[status]:
                targets[step](p)
            p.refresh_from_db()
            assert p.status == status
            if target in TRANSITIONS[status]:
                targets[target](p)
                p.refresh_from_db()
                assert p.status == target
            else:
                with pytest.raises(IllegalTransition) as err:
                    targets[target](p)
                assert err.value.extra["allowed"] == sorted(TRANSITIONS[status])

    def test_full_life_cycle_and_timeline(self, org: Org) -> None:
        p = problem(org)
        services.do_start_investigation(problem=p, actor=org.mail_ops_agent)
        services.do_record_root_cause(problem=p, actor=org.mail_ops_agent, root_cause="Disk full")
        services.do_publish_workaround(problem=p, actor=org.mail_ops_agent, workaround="Archive")
        services.do_resolve(problem=p, actor=org.mail_ops_agent, resolution="Disk extended")
        services.do_close(problem=p, actor=org.mail_ops_agent)
        p.refresh_from_db()
        assert p.status == Status.CLOSED and p.closed_at and p.root_cause_found_at
        assert types(p) == ["created", "status_changed", "root_cause_found",
                            "workaround_published", "resolved", "closed"]  # fmt: skip
        ke = p.known_errors.get()
        assert ke.workaround == "Archive" and ke.audience == "support"

    def test_workaround_before_the_cause(self, org: Org) -> None:
        p = problem(org)
        services.do_start_investigation(problem=p, actor=org.problem_manager)
        services.do_publish_workaround(problem=p, actor=org.problem_manager, workaround="Restart")
        ke = p.known_errors.get()
        assert ke.root_cause == "Under investigation." and ke.is_matchable
        services.do_record_root_cause(problem=p, actor=org.problem_manager, root_cause="Leak")
        ke.refresh_from_db()
        assert ke.root_cause == "Leak" and p.known_errors.count() == 1

    def test_closing_unresolved_needs_a_manager_and_a_reason(self, org: Org) -> None:
        p = problem(org)
        with pytest.raises(FieldError):
            services.do_close(problem=p, actor=org.problem_manager)
        with pytest.raises(PermissionDenied):
            services.do_close(problem=p, actor=org.mail_ops_agent, reason="duplicate")
        services.do_close(problem=p, actor=org.problem_manager, reason="duplicate of PRB-1")

    def test_deferred_is_tracked_and_resumable(self, org: Org) -> None:
        p = problem(org)
        with pytest.raises(PermissionDenied):
            services.do_defer(problem=p, actor=org.mail_ops_agent, reason="no capacity")
        services.do_defer(problem=p, actor=org.problem_manager, reason="no capacity")
        p.refresh_from_db()
        assert p.status == Status.DEFERRED and p.deferred_reason == "no capacity"
        assert not ProblemSpan.objects.filter(problem=p, ended_at=None).exists()
        services.do_start_investigation(problem=p, actor=org.problem_manager, comment="resumed")
        assert ProblemSpan.objects.filter(problem=p, ended_at=None).count() == 1
        assert types(p)[-2:] == ["deferred", "status_changed"]

    def test_others_cannot_work_the_problem(self, org: Org) -> None:
        p = problem(org)
        with pytest.raises(PermissionDenied):
            services.do_start_investigation(problem=p, actor=org.net_ops_agent)
        services.do_update_problem(
            problem=p, actor=org.problem_manager, changes={"team": [org.net_ops_agent.pk]}
        )
        services.do_start_investigation(problem=p, actor=org.net_ops_agent)


class TestPortfolioTime:
    def test_investigation_time_against_the_estimate(self, org: Org) -> None:
        start = timezone.now()
        with time_machine.travel(start, tick=False):
            p = problem(org, cause_estimate_hours=4)
            services.do_start_investigation(problem=p, actor=org.problem_manager)
        with time_machine.travel(start + timedelta(hours=3), tick=False):
            p.refresh_from_db()
            assert services.investigation_hours(p) == pytest.approx(3)
            services.do_defer(problem=p, actor=org.problem_manager, reason="wait for vendor")
        with time_machine.travel(start + timedelta(hours=30), tick=False):
            services.do_start_investigation(problem=p, actor=org.problem_manager)
        with time_machine.travel(start + timedelta(hours=32), tick=False):
            p.refresh_from_db()
            # Deferred time does not count: 3 + 2 hours, over the 4-hour estimate.
            assert services.investigation_hours(p) == pytest.approx(5)
            services.do_record_root_cause(problem=p, actor=org.problem_manager, root_cause="x")
        with time_machine.travel(start + timedelta(hours=40), tick=False):
            p.refresh_from_db()
            assert services.investigation_hours(p) == pytest.approx(5)
        event = ProblemEvent.objects.get(problem=p, type="root_cause_found")
        assert (
            event.payload["investigation_hours"] == 5 and event.payload["cause_estimate_hours"] == 4
        )


class TestLevels:
    def test_escalation_moves_spans_like_an_incident(self, org: Org) -> None:
        start = timezone.now()
        with time_machine.travel(start, tick=False):
            p = problem(org)
        with time_machine.travel(start + timedelta(hours=2), tick=False):
            services.do_escalate(problem=p, actor=org.mail_ops_agent, reason="needs development")
        with time_machine.travel(start + timedelta(hours=5), tick=False):
            services.do_de_escalate(problem=p, actor=org.mail_engineer)
        p.refresh_from_db()
        assert (p.assigned_group, p.support_level, p.owner_group) == (org.mail_ops, 2, org.mail_ops)
        spans = list(ProblemSpan.objects.filter(problem=p).order_by("id"))
        assert [(s.group, s.support_level, s.end_reason) for s in spans] == [
            (org.mail_ops, 2, "escalated"), (org.mail_eng, 3, "de_escalated"), (org.mail_ops, 2, ""),
        ]  # fmt: skip
        assert [s.duration_seconds for s in spans[:2]] == [7200, 10800]
        with pytest.raises(Conflict):
            services.do_de_escalate(problem=p, actor=org.mail_ops_agent)
        services.do_escalate(problem=p, actor=org.mail_ops_agent)
        with pytest.raises(Conflict):
            services.do_escalate(problem=p, actor=org.mail_engineer)

    def test_assign_to_a_member(self, org: Org) -> None:
        p = problem(org)
        with pytest.raises(FieldError):
            services.do_assign(problem=p, actor=org.problem_manager, assignee=org.net_ops_agent)
        services.do_assign(problem=p, actor=org.problem_manager, assignee=org.mail_ops_agent)
        p.refresh_from_db()
        assert p.assignee == org.mail_ops_agent and types(p)[-1] == "assigned"


class TestLinking:
    def test_link_sets_pending_and_records_on_both_timelines(self, org: Org) -> None:
        p = problem(org)
        i = incident(org, service=org.mail)
        services.do_link_incident(
            problem=p, incident=i, actor=org.problem_manager, set_pending=True
        )
        i.refresh_from_db()
        assert (i.status, i.pending_reason) == ("pending", "awaiting_problem")
        assert incident_types(i)[-2:] == ["problem_linked", "status_changed"]
        assert types(p)[-1] == "incident_linked"

    def test_one_problem_per_incident_and_unlink(self, org: Org) -> None:
        p, other = problem(org), problem(org, title="Other")
        i = incident(org)
        services.do_link_incident(problem=p, incident=i, actor=org.desk_agent)
        services.do_link_incident(problem=p, incident=i, actor=org.desk_agent)  # idempotent
        with pytest.raises(Conflict):
            services.do_link_incident(problem=other, incident=i, actor=org.desk_agent)
        services.do_unlink_incident(problem=p, incident=i, actor=org.desk_agent)
        assert types(p)[-1] == "incident_unlinked" and incident_types(i)[-1] == "problem_unlinked"
        services.do_link_incident(problem=other, incident=i, actor=org.desk_agent)

    def test_workaround_reaches_linked_open_incidents(self, org: Org) -> None:
        p = problem(org)
        waiting = incident(org)
        services.do_link_incident(
            problem=p, incident=waiting, actor=org.problem_manager, set_pending=True
        )
        services.do_start_investigation(problem=p, actor=org.problem_manager)
        services.do_publish_workaround(problem=p, actor=org.problem_manager, workaround="Restart")
        event = IncidentEvent.objects.filter(incident=waiting).last()
        assert event is not None and event.type == "workaround_available"
        assert event.payload["workaround"] == "Restart"


class TestCandidates:
    def test_severity_one_incident_is_a_candidate_once(self, org: Org) -> None:
        i = incident(org, affected_users=80)
        c = Candidate.objects.get(incident=i)
        assert c.source == "severity" and c.state == "open" and list(c.incidents.all()) == [i]
        incident_services.do_update_incident(
            incident=i, actor=org.desk_agent, changes={"affected_users": 90}
        )
        assert Candidate.objects.filter(incident=i).count() == 1

    def test_raised_severity_and_threshold_setting(self, org: Org, settings: object) -> None:
        i = incident(org, affected_users=12)
        assert not Candidate.objects.filter(incident=i).exists()
        settings.SERVICEDESK_PROBLEM_CANDIDATE_SEVERITY = 2  # type: ignore[attr-defined]
        incident_services.do_update_incident(
            incident=i, actor=org.desk_agent, changes={"affected_users": 11}
        )
        assert not Candidate.objects.filter(incident=i).exists()  # severity unchanged: no event
        j = incident(org, affected_users=12)
        assert Candidate.objects.get(incident=j).source == "severity"
        k = incident(org, affected_users=1)
        incident_services.do_update_incident(
            incident=k, actor=org.desk_agent, changes={"affected_users": 20}
        )
        assert Candidate.objects.filter(incident=k).exists()

    def test_escalation_to_the_third_line(self, org: Org) -> None:
        i = incident(org, service=org.mail)
        incident_services.do_escalate(
            incident=i, actor=org.desk_agent, reason="insufficient_knowledge"
        )
        assert not Candidate.objects.filter(incident=i).exists()
        incident_services.do_escalate(incident=i, actor=org.mail_ops_agent, reason="time_expired")
        c = Candidate.objects.get(incident=i)
        assert c.source == "escalation" and c.reasons == ["escalated to support level 3"]

    def test_both_reasons_on_one_candidate(self, org: Org) -> None:
        i = incident(org, service=org.mail, affected_users=60)
        incident_services.do_escalate(
            incident=i, actor=org.desk_agent, reason="insufficient_knowledge", to_level=3
        )
        c = Candidate.objects.get(incident=i)
        assert len(c.reasons) == 2 and c.source == "severity"

    def test_accept_opens_a_problem_and_dismiss(self, org: Org) -> None:
        a = incident(org, affected_users=70, service=org.mail)
        b = incident(org, affected_users=70, service=org.mail)
        with pytest.raises(PermissionDenied):
            candidates.do_accept_candidate(
                candidate=Candidate.objects.get(incident=a), actor=org.desk_agent
            )
        p = candidates.do_accept_candidate(
            candidate=Candidate.objects.get(incident=a), actor=org.problem_manager
        )
        assert p.source == "severity" and list(
            p.incident_links.values_list("incident", flat=True)
        ) == [a.pk]
        assert Candidate.objects.get(incident=a).state == "accepted"
        candidates.do_dismiss_candidate(
            candidate=Candidate.objects.get(incident=b), actor=org.problem_manager, note="one-off"
        )
        with pytest.raises(Conflict):
            candidates.do_dismiss_candidate(
                candidate=Candidate.objects.get(incident=b), actor=org.problem_manager
            )

    def test_linking_settles_the_candidate(self, org: Org) -> None:
        p = problem(org)
        i = incident(org, affected_users=70)
        services.do_link_incident(problem=p, incident=i, actor=org.desk_agent)
        c = Candidate.objects.get(incident=i)
        assert (c.state, c.problem) == ("accepted", p)

    def test_review_queue(self, org: Org) -> None:
        old_time = timezone.now() - timedelta(days=3)
        with time_machine.travel(old_time, tick=False):
            incident(org, title="Old")
        a, b, c = incident(org, title="A"), incident(org, title="B"), incident(org, title="C")
        queue = list(candidates.review_queue())
        assert {i.title for i in queue} == {"A", "B", "C"}
        p = candidates.do_send_to_problem_control(incidents=[a.pk, b.pk], actor=org.problem_manager,
                                                  title="A and B")  # fmt: skip
        assert p.source == "review" and p.incident_links.count() == 2
        candidates.do_dismiss_from_review(incidents=[c.pk], actor=org.problem_manager)
        assert list(candidates.review_queue()) == []
        assert len(list(candidates.review_queue(hours=24 * 7, include_decided=True))) == 2


class TestScore:
    def test_weighted_factors_rank_the_portfolio(self, org: Org) -> None:
        small = problem(org, title="Small")
        big = problem(org, title="Big", business_impact=5, users_affected=100)
        services.do_link_incident(
            problem=big, incident=incident(org, affected_users=60), actor=org.desk_agent
        )
        small.refresh_from_db()
        big.refresh_from_db()
        assert big.score > small.score == 0
        score, parts = scoring.breakdown(big)
        assert score == big.score
        by_key = {p.key: p for p in parts}
        assert by_key["severity"].scaled == 1.0 and by_key["business_impact"].scaled == 1.0
        assert by_key["linked_incidents"].raw == 1
        # weights (3,3,2,2,1): (3*0.1 + 3*1 + 2*1 + 2*1 + 0) / 11 * 100
        assert score == pytest.approx(100 * (0.3 + 3 + 2 + 2) / 11, abs=0.01)

    def test_weights_are_data(self, org: Org) -> None:
        p = problem(org, cost_estimate=50_000)
        SelectionFactor.objects.exclude(key="cost").update(weight=0)
        assert scoring.compute(p) == 50.0
        SelectionFactor.objects.filter(key="cost").update(cap=25_000)
        assert services.recompute_scores() >= 1
        p.refresh_from_db()
        assert p.score == 100.0
