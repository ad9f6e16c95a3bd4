"""Admin pages: templates previewed with a real incident before saving, approved;
rules edited with their recipients; action requests marked done. All through services."""

from __future__ import annotations

import pytest
from django.test import Client

from servicedesk.incidents import services as incidents
from servicedesk.notifications.models import (
    ActionRequest,
    ActionState,
    NotificationRule,
    NotificationTemplate,
    TemplateStatus,
)
from servicedesk.testing.org import Org

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(org: Org) -> Client:
    client = Client()
    client.force_login(org.admin)
    return client


def test_pages_render(admin_client: Client, org: Org) -> None:
    template = NotificationTemplate.objects.get(key="incident_created", language="en")
    rule = NotificationRule.objects.get(name="Reporter: incident registered")
    for url in (
        "/admin/notifications/notificationtemplate/",
        f"/admin/notifications/notificationtemplate/{template.pk}/change/",
        "/admin/notifications/notificationtemplate/add/",
        "/admin/notifications/notificationrule/",
        f"/admin/notifications/notificationrule/{rule.pk}/change/",
        "/admin/notifications/actionrequest/?overdue=yes",
        "/admin/notifications/notification/",
        "/admin/notifications/watcher/",
        "/admin/notifications/notificationpreference/",
    ):
        assert admin_client.get(url).status_code == 200, url


def test_preview_renders_unsaved_text_with_a_real_incident(admin_client: Client, org: Org) -> None:
    incident = incidents.do_create_incident(
        actor=org.desk_agent, title="Scanner offline", reporter=org.reporter, service=org.mail
    )
    template = NotificationTemplate.objects.get(key="incident_created", language="en")
    response = admin_client.post(
        f"/admin/notifications/notificationtemplate/{template.pk}/change/",
        {"description": template.description, "subject": "Hello about {{ title }}",
         "body": "Service: {{ service }}", "preview_record": incident.number,
         "preview_event": "", "_preview": "1"},
    )  # fmt: skip
    assert response.status_code == 200
    page = response.content.decode()
    assert f"{incident.number}: Hello about Scanner offline" in page
    assert "Service: E-mail" in page
    template.refresh_from_db()
    assert template.subject != "Hello about {{ title }}"  # nothing saved


def test_save_makes_a_draft_and_the_action_approves_it(admin_client: Client, org: Org) -> None:
    template = NotificationTemplate.objects.get(key="incident_resolved", language="ru")
    response = admin_client.post(
        f"/admin/notifications/notificationtemplate/{template.pk}/change/",
        {"description": "", "subject": "{{ number }} решён", "body": "Готово.",
         "preview_record": "", "preview_event": ""},
    )  # fmt: skip
    assert response.status_code == 302
    template.refresh_from_db()
    assert template.status == TemplateStatus.DRAFT and template.updated_by == org.admin
    admin_client.post(
        "/admin/notifications/notificationtemplate/",
        {"action": "approve", "_selected_action": [template.pk]},
    )
    template.refresh_from_db()
    assert template.status == TemplateStatus.APPROVED and template.approved_body == "Готово."


def test_syntax_errors_show_on_the_form(admin_client: Client, org: Org) -> None:
    template = NotificationTemplate.objects.get(key="incident_resolved", language="en")
    response = admin_client.post(
        f"/admin/notifications/notificationtemplate/{template.pk}/change/",
        {"description": "", "subject": "x", "body": "{% if %}", "preview_record": "",
         "preview_event": ""},
    )  # fmt: skip
    assert response.status_code == 200 and "template error" in response.content.decode()


def test_rules_are_saved_with_their_recipients(admin_client: Client, org: Org) -> None:
    response = admin_client.post(
        "/admin/notifications/notificationrule/add/",
        {"name": "CIO hears of severity 1", "description": "", "active": "on",
         "subject_type": "incident", "event_types": '["created"]',
         "payload_match": "{}", "severities": "[1]", "support_levels": "[]",
         "kind": "status", "action": "{}", "due_in": "", "completes_on": "[]",
         "template_key": "incident_update", "channels": '["email"]', "language": "",
         "recipients-TOTAL_FORMS": "1", "recipients-INITIAL_FORMS": "0",
         "recipients-MIN_NUM_FORMS": "0", "recipients-MAX_NUM_FORMS": "1000",
         "recipients-0-kind": "user", "recipients-0-user": str(org.cio.pk),
         "recipients-0-level": "", "recipients-0-address": ""},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:3000]
    rule = NotificationRule.objects.get(name="CIO hears of severity 1")
    assert rule.severities == [1] and [r.user for r in rule.recipients.all()] == [org.cio]


def test_action_requests_marked_done(admin_client: Client, org: Org) -> None:
    incident = incidents.do_create_incident(
        actor=org.desk_agent, title="Link down", reporter=org.reporter, service=org.internet
    )
    incidents.do_escalate(incident=incident, actor=org.desk_agent, reason="time_expired")
    request = ActionRequest.objects.get(incident=incident)
    admin_client.post(
        "/admin/notifications/actionrequest/",
        {"action": "mark_done", "_selected_action": [request.pk]},
    )
    request.refresh_from_db()
    assert request.state == ActionState.DONE and request.done_by == org.admin
    assert incident.events.filter(type="action_request_done").exists()


def test_add_a_template_as_a_draft(admin_client: Client, org: Org) -> None:
    response = admin_client.post(
        "/admin/notifications/notificationtemplate/add/",
        {"key": "sms-page", "channel": "webhook", "language": "en", "description": "",
         "subject": "PAGE {{ number }}", "body": "{{ title }}", "preview_record": "",
         "preview_event": ""},
    )  # fmt: skip
    assert response.status_code == 302
    template = NotificationTemplate.objects.get(key="sms-page")
    assert template.status == TemplateStatus.DRAFT and template.updated_by == org.admin
