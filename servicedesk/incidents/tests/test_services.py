"""Incident services: registration, severity, transitions, escalation, spans, timeline."""

from __future__ import annotations

import pytest
import time_machine

from servicedesk.core.errors import (
    Conflict,
    FieldError,
    IllegalTransition,
    PermissionDenied,
    PreconditionFailed,
)
from servicedesk.incidents import services
from servicedesk.incidents.models import AssignmentSpan, Incident, IncidentEvent, Status
from servicedesk.incidents.transitions import TRANSITIONS
from servicedesk.testing.org import Org

pytestmark = pytest.mark.django_db


def create(org: Org, **kw: object) -> Incident:
    kw.setdefault("title", "Cannot receive e-mail")
    kw.setdefault("reporter", org.reporter)
    return services.do_create_incident(actor=kw.pop("actor", org.desk_agent), **kw)  # type: ignore[arg-type]


def types(incident: Incident) -> list[str]:
    return list(
        IncidentEvent.objects.filter(incident=incident)
        .order_by("id")
        .values_list("type", flat=True)
    )


class TestRegistration:
    def test_defaults_from_reporter_and_ci(self, org: Org) -> None:
        incident = create(org, configuration_item=org.router)
        assert incident.owner_group == org.service_desk
        assert incident.assigned_group == org.service_desk
        assert incident.support_level == 1
        assert incident.status == Status.NEW
        assert incident.contact_phone == org.reporter.phone
        assert incident.user_group == org.finance
        assert incident.service == org.internet and incident.technology == org.network
        assert incident.number == f"INC-{incident.pk:06d}"
        assert types(incident) == ["created"]
        span = AssignmentSpan.objects.get(incident=incident)
        assert (span.group, span.support_level, span.ended_at) == (org.service_desk, 1, None)

    @pytest.mark.parametrize(
        ("users", "severity"),
        [(0, 4), (1, 3), (9, 3), (10, 2), (49, 2), (50, 1), (5000, 1)],
    )
    def test_severity_bands_of_table_4(self, org: Org, users: int, severity: int) -> None:
        assert create(org, affected_users=users).severity == severity

    def test_monitoring_blocks_nobody_by_default(self, org: Org) -> None:
        assert create(org, source="monitoring").severity == 4
        assert create(org, source="phone").severity == 3

    def test_severity_override_needs_a_reason(self, org: Org) -> None:
        with pytest.raises(FieldError) as err:
            create(org, affected_users=1, severity=1)
        assert err.value.loc == ["body", "severity_reason"]
        incident = create(org, affected_users=1, severity=1, severity_reason="CEO cannot work")
        assert (incident.severity, incident.severity_reason) == (1, "CEO cannot work")

    def test_priority_from_impact_and_urgency(self, org: Org) -> None:
        assert create(org, impact=1, urgency=1).priority == 1
        assert create(org, impact=2, urgency=2).priority == 3
        assert create(org, impact=3, urgency=3).priority == 5

    def test_end_user_reports_only_for_themselves(self, org: Org) -> None:
        own = create(org, actor=org.reporter, reporter=None)
        assert own.reporter == org.reporter and own.source == "portal"
        with pytest.raises(PermissionDenied):
            create(org, actor=org.reporter, reporter=org.reporter2)


class TestUpdate:
    def test_blocked_users_recompute_severity_and_log_it(self, org: Org) -> None:
        incident = create(org, affected_users=1)
        services.do_update_incident(
            incident=incident, actor=org.desk_agent, changes={"affected_users": 60}
        )
        incident.refresh_from_db()
        assert incident.severity == 1
        assert types(incident)[-2:] == ["updated", "severity_changed"]
        changed = IncidentEvent.objects.filter(incident=incident, type="severity_changed").get()
        assert changed.payload["from_severity"] == 3 and changed.payload["to_severity"] == 1

    def test_override_sticks_until_cleared(self, org: Org) -> None:
        incident = create(org, affected_users=1)
        services.do_update_incident(incident=incident, actor=org.desk_agent,
                                    changes={"severity": 2, "severity_reason": "VIP"})  # fmt: skip
        services.do_update_incident(
            incident=incident, actor=org.desk_agent, changes={"affected_users": 3}
        )
        incident.refresh_from_db()
        assert incident.severity == 2
        services.do_update_incident(
            incident=incident, actor=org.desk_agent, changes={"severity": None}
        )
        incident.refresh_from_db()
        assert (incident.severity, incident.severity_reason) == (3, "")

    def test_stale_version_changes_nothing(self, org: Org) -> None:
        incident = create(org)
        services.do_update_incident(incident=incident, actor=org.desk_agent, changes={"title": "A"},
                                    expected_version=incident.version)  # fmt: skip
        with pytest.raises(PreconditionFailed):
            services.do_update_incident(incident=incident, actor=org.desk_agent, changes={"title": "B"},
                                        expected_version=incident.version)  # fmt: skip
        incident.refresh_from_db()
        assert incident.title == "A" and incident.version == 2


class TestTransitions:
    def drive_to(self, org: Org, status: str) -> Incident:
        incident = create(org)
        if status == Status.NEW:
            return incident
        if status == Status.ASSIGNED:
            return services.do_assign(
                incident=incident, actor=org.desk_agent, assignee=org.desk_agent2
            )
        if status == Status.IN_PROGRESS:
            return services.do_accept(incident=incident, actor=org.desk_agent)
        if status == Status.PENDING:
            return services.do_set_pending(
                incident=incident, actor=org.desk_agent, reason="awaiting_user"
            )
        resolved = services.do_resolve(incident=incident, actor=org.desk_agent, resolution_code="other",
                                       resolution="fixed")  # fmt: skip
        if status == Status.RESOLVED:
            return resolved
        if status == Status.CLOSED:
            return services.do_close(incident=incident, actor=org.reporter)
        assert status == Status.CANCELLED
        return services.do_cancel(incident=create(org), actor=org.desk_agent)

    def attempt(self, org: Org, incident: Incident, target: str) -> Incident:
        actor = org.desk_agent
        if target == Status.ASSIGNED:
            return services.do_assign(incident=incident, actor=actor, assignee=org.desk_agent2)
        if target == Status.IN_PROGRESS:
            if incident.status == Status.RESOLVED:
                return services.do_reopen(
                    incident=incident, actor=org.reporter, reason="still broken"
                )
            return services.do_accept(incident=incident, actor=actor)
        if target == Status.PENDING:
            return services.do_set_pending(incident=incident, actor=actor, reason="awaiting_vendor")
        if target == Status.RESOLVED:
            return services.do_resolve(
                incident=incident, actor=actor, resolution_code="other", resolution="ok"
            )
        if target == Status.CLOSED:
            return services.do_close(incident=incident, actor=org.reporter)
        return services.do_cancel(incident=incident, actor=actor)

    # No action leads back to "new"; re-assigning an assigned incident and changing
    # the reason of a pending one keep their status.
    @pytest.mark.parametrize("current", list(TRANSITIONS))
    @pytest.mark.parametrize("target", [s for s in TRANSITIONS if s != Status.NEW])
    def test_every_pair(self, org: Org, current: str, target: str) -> None:
        incident = self.drive_to(org, current)
        assert incident.status == current
        same_state_ok = current == target and current in (Status.ASSIGNED, Status.PENDING)
        if target in TRANSITIONS[current] or same_state_ok:
            if same_state_ok and current == Status.ASSIGNED:
                incident = services.do_assign(
                    incident=incident, actor=org.desk_agent, assignee=org.desk_agent
                )
            after = self.attempt(org, incident, target)
            assert after.status == target
        else:
            before = Incident.objects.get(pk=incident.pk).version
            with pytest.raises((IllegalTransition, Conflict)) as err:
                self.attempt(org, incident, target)
            if isinstance(err.value, IllegalTransition):
                assert err.value.extra["allowed"] == sorted(TRANSITIONS[current])
            assert Incident.objects.get(pk=incident.pk).version == before


class TestEscalation:
    def test_functional_escalation_moves_spans_and_levels(self, org: Org) -> None:
        incident = create(org, configuration_item=org.router)
        with time_machine.travel("2026-01-05 10:00Z", tick=False):
            services.do_accept(incident=incident, actor=org.desk_agent)
        with time_machine.travel("2026-01-05 10:30Z", tick=False):
            services.do_escalate(
                incident=incident, actor=org.desk_agent, reason="insufficient_knowledge"
            )
        incident.refresh_from_db()
        assert (incident.support_level, incident.assigned_group, incident.assignee) == (
            2,
            org.net_ops,
            None,
        )
        assert incident.status == Status.ASSIGNED and incident.owner_group == org.service_desk
        with time_machine.travel("2026-01-05 11:00Z", tick=False):
            services.do_accept(incident=incident, actor=org.net_ops_agent)
            services.do_escalate(incident=incident, actor=org.net_ops_agent, reason="time_expired")
        incident.refresh_from_db()
        assert incident.assigned_group == org.net_eng and incident.support_level == 3
        spans = list(AssignmentSpan.objects.filter(incident=incident).order_by("id"))
        assert [(s.group, s.support_level, s.end_reason) for s in spans] == [
            (org.service_desk, 1, "escalated"), (org.net_ops, 2, "escalated"), (org.net_eng, 3, ""),
        ]  # fmt: skip
        assert spans[1].duration_seconds == 30 * 60
        with pytest.raises(Conflict, match="3rd line"):
            services.do_escalate(incident=incident, actor=org.net_engineer, reason="other")
        escalations = IncidentEvent.objects.filter(incident=incident, type="escalated")
        assert [e.payload["to_level"] for e in escalations] == [2, 3]
        assert {e.payload["kind"] for e in escalations} == {"functional"}

    def test_no_group_for_technology_is_409_and_changes_nothing(self, org: Org) -> None:
        from servicedesk.testing.factories import TechnologyFactory

        incident = create(
            org, technology=TechnologyFactory.create(name="Printers", slug="printers")
        )
        with pytest.raises(Conflict, match="No active support group at level 2"):
            services.do_escalate(incident=incident, actor=org.desk_agent, reason="other")
        incident.refresh_from_db()
        assert incident.support_level == 1 and types(incident) == ["created"]

    def test_hierarchical_walks_the_manager_chain(self, org: Org) -> None:
        incident = create(org, configuration_item=org.mail_server)
        services.do_escalate(
            incident=incident, actor=org.desk_agent, reason="time_expired", kind="hierarchical"
        )
        incident.refresh_from_db()
        # The chain starts at the 3rd-line group's line manager for the technology.
        assert incident.coordinator == org.mail_eng_manager
        services.do_escalate(
            incident=incident, actor=org.desk_agent, reason="time_expired", kind="hierarchical"
        )
        services.do_escalate(
            incident=incident, actor=org.desk_agent, reason="time_expired", kind="hierarchical"
        )
        incident.refresh_from_db()
        assert incident.coordinator == org.cio
        with pytest.raises(Conflict, match="no further manager"):
            services.do_escalate(
                incident=incident, actor=org.desk_agent, reason="other", kind="hierarchical"
            )
        event = IncidentEvent.objects.filter(incident=incident, type="escalated").first()
        assert event is not None
        assert event.payload["kind"] == "hierarchical" and event.payload["chain_position"] == 1
        assert incident.support_level == 1  # hierarchical escalation does not move the work

    def test_de_escalation_returns_to_the_service_desk(self, org: Org) -> None:
        incident = create(org, configuration_item=org.router)
        services.do_escalate(incident=incident, actor=org.desk_agent, reason="other")
        services.do_de_escalate(incident=incident, actor=org.net_ops_agent, reason="user error")
        incident.refresh_from_db()
        assert (incident.support_level, incident.assigned_group) == (1, org.service_desk)
        with pytest.raises(Conflict):
            services.do_de_escalate(incident=incident, actor=org.desk_agent)

    def test_other_groups_agents_may_not_work_it(self, org: Org) -> None:
        incident = create(org, configuration_item=org.router)
        with pytest.raises(PermissionDenied):
            services.do_accept(incident=incident, actor=org.mail_ops_agent)


class TestResolutionCycle:
    def test_reopen_counts_and_opens_a_new_span(self, org: Org) -> None:
        incident = create(org)
        services.do_resolve(
            incident=incident,
            actor=org.desk_agent,
            resolution_code="workaround",
            resolution="restarted",
        )
        services.do_reopen(incident=incident, actor=org.reporter, reason="still broken")
        incident.refresh_from_db()
        assert incident.status == Status.IN_PROGRESS and incident.reopen_count == 1
        assert incident.resolved_at is None and incident.resolution == ""
        assert AssignmentSpan.objects.filter(incident=incident).count() == 2
        assert AssignmentSpan.objects.filter(incident=incident, ended_at__isnull=True).count() == 1
        services.do_resolve(
            incident=incident,
            actor=org.desk_agent,
            resolution_code="permanent_fix",
            resolution="replaced",
        )
        services.do_close(incident=incident, actor=org.reporter, satisfaction=4, comment="thanks")
        incident.refresh_from_db()
        assert (incident.status, incident.satisfaction) == (Status.CLOSED, 4)
        assert types(incident) == ["created", "resolved", "reopened", "resolved", "closed"]

    def test_only_the_reporter_rates(self, org: Org) -> None:
        incident = create(org)
        services.do_resolve(
            incident=incident, actor=org.desk_agent, resolution_code="other", resolution="ok"
        )
        with pytest.raises(FieldError):
            services.do_close(incident=incident, actor=org.desk_agent, satisfaction=5)

    def test_unconfirmed_resolutions_close_automatically(self, org: Org, settings: object) -> None:
        with time_machine.travel("2026-03-01 09:00Z", tick=False):
            incident = create(org)
            services.do_resolve(
                incident=incident, actor=org.desk_agent, resolution_code="other", resolution="ok"
            )
        with time_machine.travel("2026-03-05 09:00Z", tick=False):
            assert services.close_unconfirmed() == 0
        with time_machine.travel("2026-03-06 09:01Z", tick=False):
            assert services.close_unconfirmed() == 1
        closed = IncidentEvent.objects.get(incident=incident, type="closed")
        assert closed.payload["automatic"] is True and closed.actor is None

    def test_rollback_leaves_no_event(self, org: Org) -> None:
        incident = create(org)
        with pytest.raises(FieldError):
            services.do_resolve(
                incident=incident, actor=org.desk_agent, resolution_code="other", resolution="  "
            )
        assert types(incident) == ["created"]


class TestWorklog:
    def test_reporters_cannot_write_internal_notes(self, org: Org) -> None:
        incident = create(org)
        with pytest.raises(PermissionDenied):
            services.do_add_comment(incident=incident, actor=org.reporter, body="x", public=False)
        comment = services.do_add_comment(
            incident=incident, actor=org.reporter, body="any news?", public=True
        )
        assert comment.public and types(incident)[-1] == "commented"

    def test_tasks_for_partners(self, org: Org) -> None:
        from servicedesk.testing.factories import PartnerFactory

        incident = create(org)
        task = services.do_add_task(incident=incident, actor=org.desk_agent, title="Call the ISP",
                                    partner=PartnerFactory.create(name="ISP"))  # fmt: skip
        services.do_complete_task(task=task, actor=org.desk_agent)
        task.refresh_from_db()
        assert task.done_at is not None
        assert types(incident)[-2:] == ["task_added", "task_done"]
