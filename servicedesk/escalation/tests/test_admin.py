"""Admin pages of the escalation matrix and on-call schedules render and validate."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from servicedesk.escalation.models import BusinessCalendar, EscalationPolicy
from servicedesk.oncall.models import OnCallSchedule
from servicedesk.testing.org import Org

from .helpers import create, policy, run_worker

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(org: Org) -> Client:
    client = Client()
    client.force_login(org.admin)
    return client


PAGES = [
    "escalation_escalationpolicy", "escalation_businesscalendar", "escalation_incidentescalation",
    "escalation_escalationstep", "escalation_emergencymeeting", "oncall_oncallschedule", "oncall_page",
]  # fmt: skip


@pytest.mark.parametrize("name", PAGES)
def test_changelists_render(admin_client: Client, org: Org, name: str) -> None:
    incident = create(org, affected_users=60)
    run_worker(incident.opened_at.replace(hour=12))
    response = admin_client.get(reverse(f"admin:{name}_changelist"))
    assert response.status_code == 200


def test_policy_change_page_renders(admin_client: Client) -> None:
    response = admin_client.get(
        reverse("admin:escalation_escalationpolicy_change", args=[policy(1).pk])
    )
    assert response.status_code == 200
    assert b"emergency_meeting" in response.content


def _policy_form(**changes: Any) -> dict[str, Any]:
    calendar = BusinessCalendar.objects.get(name="24x7")
    data = {
        "name": "Mail, severity 2", "severity": "2", "scope": "all", "calendar": str(calendar.pk),
        "offsets": "per_step", "respond_within": "600", "resolve_within": "3600", "active": "",
        "description": "",
        "steps-TOTAL_FORMS": "1", "steps-INITIAL_FORMS": "0", "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
        "steps-0-position": "1", "steps-0-kind": "assign", "steps-0-support_level": "2",
        "steps-0-after": "60",
    }  # fmt: skip
    data.update(changes)
    return data


def test_add_policy_with_steps(admin_client: Client) -> None:
    response = admin_client.post(reverse("admin:escalation_escalationpolicy_add"), _policy_form())
    assert response.status_code == 302, response.content.decode()[:2000]
    created = EscalationPolicy.objects.get(name="Mail, severity 2")
    assert [(s.kind, s.support_level, s.after) for s in created.steps.all()] == [("assign", 2, 60)]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"steps-0-support_level": ""}, b"names the level to reach"),
        ({"scope": "service"}, b"Choose the service"),
        ({"active": "on", "severity": "1"}, b"already covers severity 1"),
    ],
)
def test_policy_admin_validates(
    admin_client: Client, changes: dict[str, str], message: bytes
) -> None:
    response = admin_client.post(
        reverse("admin:escalation_escalationpolicy_add"), _policy_form(**changes)
    )
    assert response.status_code == 200
    assert message in response.content


def test_calendar_admin_validates(admin_client: Client) -> None:
    response = admin_client.post(reverse("admin:escalation_businesscalendar_add"), {
        "name": "Broken", "kind": "business_hours", "time_zone": "Nowhere/Special", "hours": "{}",
        "country": "", "subdivision": "", "extra_holidays": "[]", "extra_workdays": "[]",
    })  # fmt: skip
    assert response.status_code == 200 and b"unknown time zone" in response.content


def test_schedule_admin_adds_a_schedule_with_a_layer(admin_client: Client, org: Org) -> None:
    data = {
        "group": str(org.mail_ops.pk), "name": "Mail on call", "time_zone": "Europe/Moscow",
        "description": "",
        "layers-TOTAL_FORMS": "1", "layers-INITIAL_FORMS": "0", "layers-MIN_NUM_FORMS": "0",
        "layers-MAX_NUM_FORMS": "1000", "layers-0-position": "1", "layers-0-name": "primary",
        "layers-0-rotation": "weekly", "layers-0-starts_on": "2025-03-03",
        "layers-0-handoff_time": "09:00", "layers-0-restriction": "{}",
        "overrides-TOTAL_FORMS": "0", "overrides-INITIAL_FORMS": "0", "overrides-MIN_NUM_FORMS": "0",
        "overrides-MAX_NUM_FORMS": "1000",
    }  # fmt: skip
    response = admin_client.post(reverse("admin:oncall_oncallschedule_add"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    schedule = OnCallSchedule.objects.get(group=org.mail_ops)
    assert schedule.layers.get().rotation == "weekly"
    layer_page = admin_client.get(
        reverse("admin:oncall_oncalllayer_change", args=[schedule.layers.get().pk])
    )
    assert layer_page.status_code == 200
