"""The incident page: card, timeline, worklog, actions in place (HTMX) and without JS."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from servicedesk.catalog.models import Partner
from servicedesk.incidents import services
from servicedesk.incidents.models import Comment, Incident, IncidentEvent, Status, Task
from servicedesk.testing.org import Org

from .conftest import HTMX

pytestmark = pytest.mark.django_db


def post(page: Client, incident: Incident, action: str, data: dict[str, Any],
         htmx: bool = False) -> Any:  # fmt: skip
    body = {f"{action}-{k}": v for k, v in data.items()}
    return page.post(f"/incidents/{incident.pk}/{action}/", body, headers=HTMX if htmx else {})


class TestPage:
    def test_shows_card_timeline_and_worklog(self, org: Org, browser: Callable[..., Client],
                                             incident_for: Callable[..., Incident]) -> None:  # fmt: skip
        incident = incident_for(configuration_item=org.router, affected_users=12)
        services.do_add_comment(
            incident=incident, actor=org.desk_agent, body="Called back", public=False
        )
        html = browser(org.desk_agent).get(f"/incidents/{incident.pk}/").content.decode()
        assert incident.number in html and "core-router-01" in html
        assert org.reporter.phone in html
        assert "Registered with severity 2, priority 3, for Service Desk" in html
        assert "Called back" in html and "internal" in html
        assert 'id="incident-main"' in html

    def test_end_users_follow_it_in_the_portal(self, org: Org, browser: Callable[..., Client],
                                               incident_for: Callable[..., Incident]) -> None:  # fmt: skip
        incident = incident_for()
        response = browser(org.reporter).get(f"/incidents/{incident.pk}/")
        assert response["Location"] == f"/portal/incidents/{incident.pk}/"

    def test_unknown_incident_is_404(self, org: Org, browser: Callable[..., Client]) -> None:
        assert browser(org.desk_agent).get("/incidents/999999/").status_code == 404

    def test_actions_follow_the_status(self, org: Org, browser: Callable[..., Client],
                                       incident_for: Callable[..., Incident]) -> None:  # fmt: skip
        incident = incident_for()
        page = browser(org.desk_agent)
        actions = page.get(f"/incidents/{incident.pk}/").context["actions"]
        assert {"accept", "assign", "escalate", "resolve", "pending", "cancel"} <= actions
        assert "close" not in actions and "de-escalate" not in actions
        services.do_resolve(incident=incident, actor=org.desk_agent, resolution_code="other",
                            resolution="fixed")  # fmt: skip
        actions = page.get(f"/incidents/{incident.pk}/").context["actions"]
        assert actions == {"comment", "close", "reopen"}

    def test_another_groups_agent_may_only_comment(self, org: Org, browser: Callable[..., Client],
                                                   incident_for: Callable[..., Incident]) -> None:  # fmt: skip
        incident = incident_for()
        actions = browser(org.mail_engineer).get(f"/incidents/{incident.pk}/").context["actions"]
        assert actions == {"comment"}


class TestActions:
    def test_accept_escalate_and_take_over_by_the_2nd_line(
        self, org: Org, browser: Callable[..., Client], incident_for: Callable[..., Incident]
    ) -> None:
        incident = incident_for(configuration_item=org.router)
        desk = browser(org.desk_agent)
        assert post(desk, incident, "accept", {"version": 1}, htmx=True).status_code == 200
        response = post(desk, incident, "escalate", {"kind": "functional",
                        "reason": "insufficient_knowledge", "comment": "Router config",
                        "version": 2}, htmx=True)  # fmt: skip
        assert response.status_code == 200
        html = response.content.decode()
        assert html.startswith('<div id="incident-main"') and "Escalated." in html
        incident.refresh_from_db()
        assert (incident.support_level, incident.assigned_group) == (2, org.net_ops)
        post(browser(org.net_ops_agent), incident, "accept", {"version": incident.version})
        incident.refresh_from_db()
        assert incident.status == Status.IN_PROGRESS and incident.assignee == org.net_ops_agent

    def test_hierarchical_escalation_names_the_manager(
        self, org: Org, browser: Callable[..., Client], incident_for: Callable[..., Incident]
    ) -> None:
        incident = incident_for(configuration_item=org.router)
        post(browser(org.desk_agent), incident, "escalate",
             {"kind": "hierarchical", "reason": "time_expired"})  # fmt: skip
        incident.refresh_from_db()
        assert incident.coordinator == org.net_eng_manager

    def test_without_htmx_it_redirects_back(self, org: Org, browser: Callable[..., Client],
                                            incident_for: Callable[..., Incident]) -> None:  # fmt: skip
        incident = incident_for()
        response = post(browser(org.desk_agent), incident, "resolve",
                        {"resolution_code": "user_instruction", "resolution": "Explained"})  # fmt: skip
        assert response.status_code == 302 and response["Location"] == f"/incidents/{incident.pk}/"
        incident.refresh_from_db()
        assert incident.status == Status.RESOLVED

    def test_service_error_is_shown_next_to_the_field(
        self, org: Org, browser: Callable[..., Client], incident_for: Callable[..., Incident]
    ) -> None:
        incident = incident_for()
        response = post(browser(org.desk_agent), incident, "assign",
                        {"group": org.net_ops.pk, "assignee": org.mail_engineer.pk}, htmx=True)  # fmt: skip
        assert response.status_code == 422
        form = response.context["forms"]["assign"]
        assert form.errors["assignee"] == ["Not a member of Network Operations."]
        assert response.context["open_action"] == "assign"
        html = response.content.decode()
        assert 'aria-invalid="true"' in html and 'id="id_assign-assignee_errors"' in html

    def test_conflict_is_shown_on_top_of_the_form(self, org: Org, browser: Callable[..., Client],
                                                  incident_for: Callable[..., Incident]) -> None:  # fmt: skip
        incident = incident_for()  # no technology: nobody at the 2nd line for it
        response = post(browser(org.desk_agent), incident, "escalate",
                        {"kind": "functional", "reason": "other"}, htmx=True)  # fmt: skip
        assert response.status_code == 422
        assert response.context["forms"]["escalate"].non_field_errors() == [
            "No active support group at level 2 for incidents without a technology."
        ]

    def test_stale_version_changes_nothing(self, org: Org, browser: Callable[..., Client],
                                           incident_for: Callable[..., Incident]) -> None:  # fmt: skip
        incident = incident_for()
        services.do_accept(incident=incident, actor=org.desk_agent2)
        response = post(browser(org.desk_agent), incident, "pending",
                        {"reason": "awaiting_user", "version": 1}, htmx=True)  # fmt: skip
        assert response.status_code == 422
        assert "Someone else changed the incident" in response.content.decode()
        incident.refresh_from_db()
        assert incident.status == Status.IN_PROGRESS

    def test_errors_are_translated(self, org: Org, browser: Callable[..., Client],
                                   incident_for: Callable[..., Incident]) -> None:  # fmt: skip
        incident = incident_for()
        org.desk_agent.language = "ru"
        org.desk_agent.save()
        response = post(browser(org.desk_agent), incident, "resolve",
                        {"resolution_code": "other", "resolution": ""}, htmx=True)  # fmt: skip
        assert response.context["forms"]["resolve"].errors["resolution"] == ["Обязательное поле."]
        services.do_resolve(incident=incident, actor=org.desk_agent, resolution_code="other",
                            resolution="x")  # fmt: skip
        response = post(browser(org.desk_agent), incident, "pending", {"reason": "awaiting_user"})
        assert response.status_code == 422
        assert response.context["forms"]["pending"].non_field_errors() == [
            "Невозможно, пока инцидент в статусе «решён» (дальше можно: в работе, закрыт)."
        ]

    def test_illegal_transition_is_explained(self, org: Org, browser: Callable[..., Client],
                                             incident_for: Callable[..., Incident]) -> None:  # fmt: skip
        incident = incident_for()
        response = post(browser(org.desk_agent), incident, "close", {}, htmx=True)
        assert response.status_code == 422
        assert response.context["forms"]["close"].non_field_errors() == [
            "Not possible while the incident is new (next: assigned, in progress, pending, "
            "resolved, cancelled)."
        ]

    def test_close_reopen_and_cancel(self, org: Org, browser: Callable[..., Client],
                                     incident_for: Callable[..., Incident]) -> None:  # fmt: skip
        page = browser(org.desk_agent)
        incident = incident_for()
        services.do_resolve(incident=incident, actor=org.desk_agent, resolution_code="other",
                            resolution="x")  # fmt: skip
        post(page, incident, "reopen", {"reason": "still broken"})
        incident.refresh_from_db()
        assert incident.status == Status.IN_PROGRESS and incident.reopen_count == 1
        post(page, incident, "cancel", {"reason": "duplicate"})
        incident.refresh_from_db()
        assert incident.status == Status.CANCELLED
        other = incident_for()
        services.do_resolve(incident=other, actor=org.desk_agent, resolution_code="other",
                            resolution="x")  # fmt: skip
        post(page, other, "close", {})
        other.refresh_from_db()
        assert other.status == Status.CLOSED

    def test_worklog_public_and_internal(self, org: Org, browser: Callable[..., Client],
                                         incident_for: Callable[..., Incident]) -> None:  # fmt: skip
        incident = incident_for()
        page = browser(org.desk_agent)
        post(page, incident, "comment", {"body": "Note to self", "public": "0"}, htmx=True)
        post(page, incident, "comment", {"body": "We are on it", "public": "1"}, htmx=True)
        assert list(Comment.objects.order_by("id").values_list("body", "public")) == [
            ("Note to self", False), ("We are on it", True)]  # fmt: skip

    def test_tasks_and_card_edit(self, org: Org, browser: Callable[..., Client],
                                 incident_for: Callable[..., Incident]) -> None:  # fmt: skip
        partner = Partner.objects.create(name="Cisco TAC", phone="+7 495 000-10-10")
        incident = incident_for()
        page = browser(org.desk_agent)
        post(page, incident, "task", {"title": "Open a TAC case", "partner": partner.pk,
                                      "due_at": "2030-01-02T10:00"})  # fmt: skip
        task = Task.objects.get()
        assert task.partner == partner and task.due_at is not None
        response = page.post(f"/incidents/{incident.pk}/tasks/{task.pk}/done/", headers=HTMX)
        assert "Task done." in response.content.decode()
        task.refresh_from_db()
        assert task.done_at is not None
        incident.refresh_from_db()
        post(page, incident, "edit", {"title": "Mail down for all of sales", "affected_users": 60,
                                      "impact": 1, "urgency": 1, "version": incident.version})  # fmt: skip
        incident.refresh_from_db()
        assert (incident.title, incident.severity, incident.priority) == (
            "Mail down for all of sales", 1, 1)  # fmt: skip
        assert IncidentEvent.objects.filter(incident=incident, type="severity_changed").exists()

    def test_group_members_for_the_person_picker(self, org: Org, browser: Callable[..., Client],
                                                 incident_for: Callable[..., Incident]) -> None:  # fmt: skip
        incident = incident_for()
        html = (
            browser(org.desk_agent)
            .get(f"/incidents/{incident.pk}/members/?assign-group={org.net_ops.pk}")
            .content.decode()
        )
        assert str(org.net_ops_agent) in html and str(org.desk_agent) not in html


def test_incident_page_query_count_is_pinned(org: Org, browser: Callable[..., Client],
                                             incident_for: Callable[..., Incident],
                                             django_assert_max_num_queries: Any) -> None:  # fmt: skip
    incident = incident_for(configuration_item=org.router)
    for n in range(10):
        services.do_add_comment(
            incident=incident, actor=org.desk_agent, body=f"n{n}", public=bool(n % 2)
        )
        services.do_add_task(incident=incident, actor=org.desk_agent, title=f"task {n}")
    page = browser(org.desk_agent)
    page.get("/")
    # session, user, incident, the user's groups, events, comments, tasks, group members,
    # and the forms' choices (groups, partners, services, CIs, categories)
    with django_assert_max_num_queries(13):
        response = page.get(f"/incidents/{incident.pk}/")
    assert len(response.context["events"]) == 21


def test_every_event_of_a_life_cycle_reads_as_a_sentence(
    org: Org, browser: Callable[..., Client], incident_for: Callable[..., Incident]
) -> None:
    incident = incident_for(configuration_item=org.router)
    desk, ops = org.desk_agent, org.net_ops_agent
    services.do_update_incident(incident=incident, actor=desk, changes={"affected_users": 20})
    services.do_assign(incident=incident, actor=desk, assignee=org.desk_agent2)
    services.do_accept(incident=incident, actor=desk)
    services.do_set_pending(incident=incident, actor=desk, reason="awaiting_user", comment="asked")
    services.do_escalate(incident=incident, actor=desk, reason="insufficient_knowledge")
    services.do_escalate(incident=incident, actor=desk, reason="time_expired", kind="hierarchical")
    services.do_de_escalate(incident=incident, actor=ops, reason="back")
    services.do_add_comment(incident=incident, actor=desk, body="x", public=True)
    task = services.do_add_task(incident=incident, actor=desk, title="Call the ISP")
    services.do_complete_task(task=task, actor=desk)
    services.do_resolve(
        incident=incident, actor=desk, resolution_code="workaround", resolution="ok"
    )
    services.do_reopen(incident=incident, actor=org.reporter, reason="again")
    services.do_resolve(incident=incident, actor=desk, resolution_code="other", resolution="ok")
    services.do_close(incident=incident, actor=org.reporter, satisfaction=4)
    other = incident_for()
    services.do_cancel(incident=other, actor=desk, reason="duplicate")
    from servicedesk.web.timeline import describe

    events = list(IncidentEvent.objects.order_by("id"))
    assert {e.type for e in events} == {
        "created", "updated", "severity_changed", "assigned", "status_changed", "escalated",
        "de_escalated", "commented", "task_added", "task_done", "resolved", "reopened", "closed",
        "cancelled",
    }  # fmt: skip
    for event in events:
        text = describe(event)
        assert text and text != event.type.replace("_", " "), event.type
    html = browser(desk, "ru").get(f"/incidents/{incident.pk}/").content.decode()
    assert "Иерархическая эскалация" in html and "Закрыт; оценка 4 из 5" in html
