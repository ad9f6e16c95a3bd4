"""The communications API: notifications, rules, templates, action requests, status
updates, watchers and working hours."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from servicedesk.accounts.models import User
from servicedesk.incidents import services as incidents
from servicedesk.incidents.models import Incident
from servicedesk.integrations.models import WebhookEndpoint
from servicedesk.notifications.models import NotificationRule, NotificationTemplate
from servicedesk.testing.api import ApiClient
from servicedesk.testing.org import Org

from .conftest import run_worker

pytestmark = pytest.mark.django_db
Api = Callable[[User | None], ApiClient]


def incident(org: Org, **kw: object) -> Incident:
    kw.setdefault("title", "Mail is slow")
    return incidents.do_create_incident(actor=org.desk_agent, reporter=org.reporter, **kw)  # type: ignore[arg-type]


class TestNotifications:
    def test_unread_list_mark_read_and_count(self, org: Org, api: Api) -> None:
        first = incident(org)
        second = incident(org, title="Printer")
        run_worker()
        client = api(org.reporter)
        body = client.get("/notifications").json()
        assert [n["number"] for n in body["items"]] == [second.number, first.number]
        assert body["next"] is None and body["items"][0]["read_at"] is None
        assert body["items"][0]["title"].startswith(second.number)
        assert client.get("/notifications/unread-count").json() == {"count": 2}
        one = body["items"][1]["id"]
        response = client.post(f"/notifications/{one}/read")
        assert response.status_code == 200 and response.json()["read_at"]
        assert [n["id"] for n in client.get("/notifications").json()["items"]] == [
            body["items"][0]["id"]
        ]
        assert len(client.get("/notifications", include_read="true").json()["items"]) == 2
        assert client.post("/notifications/read").json() == {"count": 1}
        assert client.get("/notifications").json()["items"] == []

    def test_people_see_only_their_own(self, org: Org, api: Api) -> None:
        incident(org)
        run_worker()
        own = api(org.reporter).get("/notifications").json()["items"][0]["id"]
        assert api(org.reporter2).get("/notifications").json()["items"] == []
        assert api(org.reporter2).post(f"/notifications/{own}/read").status_code == 404

    def test_pages_with_a_cursor(self, org: Org, api: Api) -> None:
        for n in range(3):
            incident(org, title=f"Incident {n}")
        run_worker()
        client = api(org.reporter)
        page = client.get("/notifications", limit=2).json()
        assert len(page["items"]) == 2 and page["next"]
        rest = client.get("/notifications", limit=2, cursor=page["next"]).json()
        assert len(rest["items"]) == 1 and rest["next"] is None


CONDITIONS: dict[str, object] = {"severities": [1], "payload": {"by_system": False}}
RECIPIENTS: list[dict[str, object]] = [
    {"kind": "address", "address": "noc@example.com"}, {"kind": "manager_chain", "level": 1},
]  # fmt: skip
RULE: dict[str, object] = {
    "name": "NOC: severity 1 on the network",
    "event_types": ["created", "severity_changed"],
    "conditions": CONDITIONS,
    "recipients": RECIPIENTS,
    "template": "incident_update",
    "channels": ["email"],
    "urgent": True,
}  # fmt: skip


class TestRules:
    def test_administrators_create_and_change_rules(self, org: Org, api: Api) -> None:
        admin = api(org.admin)
        endpoint = WebhookEndpoint.objects.create(name="NOC", url="https://noc.example.com/in")
        recipients = [*RECIPIENTS, {"kind": "webhook", "webhook": endpoint.pk}]
        conditions = {**CONDITIONS, "technologies": [org.network.pk]}
        body = {**RULE, "recipients": recipients, "conditions": conditions}
        response = admin.post("/notification-rules", body)
        assert response.status_code == 201, response.json()
        rule = response.json()
        assert rule["conditions"]["technologies"] == [{"id": org.network.pk, "name": "Network"}]
        assert rule["recipients"][2]["webhook"] == {"id": endpoint.pk, "name": "NOC"}
        assert rule["shipped"] is False and rule["active"] is True
        # It works: a severity-1 network incident goes to the NOC address.
        incident(org, service=org.internet, affected_users=70)
        from servicedesk.core.models import OutboxMessage

        assert OutboxMessage.objects.filter(destination="noc@example.com").count() == 1
        patched = admin.patch(f"/notification-rules/{rule['id']}", {"active": False}).json()
        assert patched["active"] is False and patched["recipients"] == rule["recipients"]
        replaced = admin.put(f"/notification-rules/{rule['id']}", {**RULE, "name": "Renamed"})
        assert replaced.json()["name"] == "Renamed" and replaced.json()["active"] is True
        assert admin.delete(f"/notification-rules/{rule['id']}").status_code == 204
        assert admin.get(f"/notification-rules/{rule['id']}").status_code == 404

    def test_staff_read_administrators_write(self, org: Org, api: Api) -> None:
        agent = api(org.desk_agent)
        listed = agent.get("/notification-rules", limit=200).json()["items"]
        assert {r["name"] for r in listed} >= {"Reporter: incident registered"}
        assert agent.post("/notification-rules", RULE).status_code == 403
        assert api(org.reporter).get("/notification-rules").status_code == 403

    @pytest.mark.parametrize(
        ("change", "loc"),
        [
            ({"template": "no-such-template"}, ["body", "template"]),
            ({"recipients": [{"kind": "manager_chain"}]}, ["body", "recipients", 0, "level"]),
            ({"recipients": [{"kind": "address", "address": "not an address"}]}, ["body", "recipients"]),
            ({"recipients": [{"kind": "user", "user": 999999}]}, ["body", "recipients", 0, "user"]),
            ({"channels": ["pigeon"]}, ["body", "payload", "channels", 0]),
            ({"event_types": []}, ["body", "payload", "event_types"]),
            ({"name": "Reporter: incident registered"}, ["body", "name"]),
        ],
    )  # fmt: skip
    def test_invalid_rules_are_422_naming_the_field(
        self, org: Org, api: Api, change: dict[str, object], loc: list[object]
    ) -> None:
        response = api(org.admin).post("/notification-rules", {**RULE, **change})
        assert response.status_code == 422, response.json()
        assert response.json()["detail"][0]["loc"] == loc

    def test_shipped_defaults(self, org: Org) -> None:
        names = set(NotificationRule.objects.filter(shipped=True).values_list("name", flat=True))
        assert {
            "Reporter: incident registered", "Reporter: incident resolved",
            "Group: incident assigned", "Manager: hierarchical escalation",
            "Support levels: known error workaround published",
            "Support levels: problem workaround published",
        } <= names  # fmt: skip


class TestTemplates:
    def test_create_edit_approve_with_etags(self, org: Org, api: Api) -> None:
        admin = api(org.admin)
        created = admin.post(
            "/notification-templates",
            {"key": "major-incident", "language": "en", "channel": "email",
             "subject": "{{ number }} major incident", "body": "{{ title }}: {{ status }}"},
        )  # fmt: skip
        assert created.status_code == 201
        template = created.json()
        assert template["status"] == "draft" and template["approved_at"] is None
        stale = created["ETag"]
        edited = admin.patch(
            f"/notification-templates/{template['id']}", {"body": "{{ title }} ({{ status }})"},
            headers={"If-Match": stale},
        )  # fmt: skip
        assert edited.status_code == 200
        again = admin.patch(
            f"/notification-templates/{template['id']}", {"body": "x"}, headers={"If-Match": stale}
        )
        assert again.status_code == 412
        assert (
            api(org.desk_agent)
            .post(f"/notification-templates/{template['id']}/approve")
            .status_code
            == 403
        )
        approved = api(org.desk_manager).post(f"/notification-templates/{template['id']}/approve")
        assert approved.json()["status"] == "approved"
        assert approved.json()["approved_by"]["id"] == org.desk_manager.pk
        assert approved.json()["approved_body"] == "{{ title }} ({{ status }})"

    def test_preview_unsaved_text_with_a_real_incident(self, org: Org, api: Api) -> None:
        record = incident(org, service=org.mail)
        response = api(org.desk_agent).post(
            "/notification-templates/preview",
            {"subject": "About {{ title }}", "body": "{% if service %}Service: {{ service }}{% endif %}",
             "language": "ru", "record": {"type": "incident", "id": record.pk}},
        )  # fmt: skip
        assert response.status_code == 200, response.json()
        assert response.json() == {
            "subject": f"{record.number}: About Mail is slow",
            "body": "Service: E-mail",
            "record": str(record),
        }
        assert NotificationTemplate.objects.filter(subject="About {{ title }}").count() == 0

    def test_preview_errors_are_422(self, org: Org, api: Api) -> None:
        client = api(org.desk_agent)
        bad = client.post("/notification-templates/preview", {"subject": "x", "body": "{% if %}"})
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "body"]
        incident(org)
        missing = client.post(
            "/notification-templates/preview",
            {"subject": "x", "body": "y", "record": {"type": "incident", "id": 99999}},
        )
        assert missing.status_code == 422
        end_user = api(org.reporter).post(
            "/notification-templates/preview", {"subject": "x", "body": "y"}
        )
        assert end_user.status_code == 403

    def test_preview_a_saved_template_with_the_records_event(self, org: Org, api: Api) -> None:
        record = incident(org)
        incidents.do_resolve(
            incident=record, actor=org.desk_agent, resolution_code="user_instruction",
            resolution="Showed how to clear the cache.",
        )  # fmt: skip
        template = NotificationTemplate.objects.get(key="incident_resolved", language="en")
        response = api(org.desk_agent).get(
            f"/notification-templates/{template.pk}/preview", record=record.pk,
            event_type="resolved",
        )  # fmt: skip
        assert response.status_code == 200
        assert "Showed how to clear the cache." in response.json()["body"]
        assert "How: user instructed." in response.json()["body"]

    def test_shipped_templates_cannot_be_deleted(self, org: Org, api: Api) -> None:
        template = NotificationTemplate.objects.get(key="incident_resolved", language="en")
        response = api(org.admin).delete(f"/notification-templates/{template.pk}")
        assert response.status_code == 409

    def test_list_filters(self, org: Org, api: Api) -> None:
        items = api(org.desk_agent).get("/notification-templates", key="incident_created").json()
        assert {(t["language"], t["status"]) for t in items["items"]} == {
            ("en", "approved"), ("ru", "approved"),
        }  # fmt: skip


class TestActionRequestsAndUpdates:
    def test_overdue_visible_on_the_incident_and_done(self, org: Org, api: Api) -> None:
        start = datetime(2030, 3, 6, 10, 0, tzinfo=UTC)
        with time_machine.travel(start, tick=False) as clock:
            record = incident(org, service=org.internet)
            incidents.do_escalate(incident=record, actor=org.desk_agent, reason="time_expired")
            clock.shift(timedelta(minutes=45))
            agent = api(org.net_ops_agent)
            [item] = agent.get(f"/incidents/{record.pk}/action-requests").json()["items"]
            assert item["overdue"] is True and item["state"] == "open"
            assert item["addressee_group"] == {"id": org.net_ops.pk, "name": "Network Operations"}
            assert item["action"] == "accept the incident and contact the reporter"
            mine = agent.get("/action-requests", mine="true", overdue="true").json()["items"]
            assert [r["id"] for r in mine] == [item["id"]]
            assert (
                api(org.mail_ops_agent).get("/action-requests", mine="true").json()["items"] == []
            )
            done = agent.post(f"/action-requests/{item['id']}/done", {"outcome": "on it"})
            assert done.status_code == 200 and done.json()["state"] == "done"
            assert done.json()["overdue"] is False
            assert agent.post(f"/action-requests/{item['id']}/done").status_code == 409

    def test_status_update_endpoint(self, org: Org, api: Api) -> None:
        record = incident(org, affected_users=25)
        response = api(org.desk_agent).post(
            f"/incidents/{record.pk}/status-updates", {"text": "Vendor engineer on site."}
        )
        assert response.status_code == 201, response.json()
        assert response.json()["recipients"] == 2  # the reporter and the other desk agent
        low = incident(org, title="One user")
        assert (
            api(org.desk_agent)
            .post(f"/incidents/{low.pk}/status-updates", {"text": "x"})
            .status_code
            == 409
        )
        assert (
            api(org.desk_agent)
            .post(f"/incidents/{record.pk}/status-updates", {"text": ""})
            .status_code
            == 422
        )

    def test_watchers(self, org: Org, api: Api) -> None:
        record = incident(org)
        reporter = api(org.reporter)
        assert reporter.post(f"/incidents/{record.pk}/watchers").status_code == 201
        assert (
            api(org.desk_agent)
            .post(f"/incidents/{record.pk}/watchers", {"user": org.cio.pk})
            .status_code
            == 201
        )
        names = {
            w["name"]
            for w in api(org.desk_agent).get(f"/incidents/{record.pk}/watchers").json()["items"]
        }
        assert names == {str(org.reporter), str(org.cio)}
        assert [
            w["id"] for w in reporter.get(f"/incidents/{record.pk}/watchers").json()["items"]
        ] == [org.reporter.pk]
        assert api(org.reporter2).post(f"/incidents/{record.pk}/watchers").status_code == 404
        assert reporter.delete(f"/incidents/{record.pk}/watchers/{org.cio.pk}").status_code == 403
        assert (
            reporter.delete(f"/incidents/{record.pk}/watchers/{org.reporter.pk}").status_code == 204
        )

    def test_working_hours(self, org: Org, api: Api) -> None:
        client = api(org.reporter)
        defaults = client.get("/notification-preferences").json()
        assert defaults["work_days"] == [0, 1, 2, 3, 4] and defaults["quiet_hours"] is True
        saved = client.put(
            "/notification-preferences",
            {"quiet_hours": True, "work_days": [0, 2], "work_starts": "07:00", "work_ends": "15:30"},
        ).json()  # fmt: skip
        assert saved["work_days"] == [0, 2] and saved["work_ends"] == "15:30:00"
        assert client.put("/notification-preferences", {"work_days": [7]}).status_code == 422


class TestHostileInput:
    """Input that one database stores and the other rejects is a 422 on both."""

    def test_nul_characters_are_422(self, org: Org, api: Api) -> None:
        admin = api(org.admin)
        template = {"key": "k", "language": "en", "subject": "a\x00b", "body": "x"}
        assert admin.post("/notification-templates", template).status_code == 422
        assert admin.get("/notification-templates", key="a\x00").status_code == 422
        rule = {**RULE, "conditions": {"payload": {"kind": "a\x00"}}}
        assert admin.post("/notification-rules", rule).status_code == 422
        assert not NotificationTemplate.objects.filter(key="k").exists()

    def test_working_hours_are_wall_clock_times(self, org: Org, api: Api) -> None:
        response = api(org.reporter).put(
            "/notification-preferences", {"work_starts": "07:00:00+03:00", "work_ends": "16:00"}
        )
        assert response.status_code == 200 and response.json()["work_starts"] == "07:00:00"
