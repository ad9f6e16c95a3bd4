"""The escalation API: policies (CRUD, admin), dry runs, plans, SLA clocks, calendars."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from servicedesk.escalation.models import EscalationPolicy
from servicedesk.incidents import services as incidents
from servicedesk.testing.api import ApiClient
from servicedesk.testing.org import Org

from .helpers import T0, at, create, minutes, policy, run_worker

pytestmark = pytest.mark.django_db
Api = Callable[[Any], ApiClient]

POLICY: dict[str, Any] = {
    "name": "Internet outages",
    "severity": 2,
    "applies_to": {"scope": "service", "id": None},
    "offsets": "from_open",
    "respond_within": 600,
    "resolve_within": 7200,
    "steps": [
        {"kind": "assign", "support_level": 2, "after": 0},
        {"kind": "page", "support_level": 2, "after": 60, "ack_within": 120},
        {"kind": "assign", "support_level": 3, "after": 1800},
        {"kind": "notify_manager", "after": 3600},
        {"kind": "emergency_meeting", "after": 3600, "bridge": "https://meet.example/ops"},
        {"kind": "webhook", "after": 3600, "url": "https://hooks.example/escalate", "secret": "k"},
    ],
}


def body(org: Org, **changes: Any) -> dict[str, Any]:
    data = {**POLICY, "applies_to": {"scope": "service", "id": org.internet.pk}}
    data.update(changes)
    return data


class TestPolicies:
    def test_crud_is_for_administrators(self, org: Org, api: Api) -> None:
        assert api(org.desk_manager).get("/escalation-policies").status_code == 403
        assert api(org.desk_manager).post("/escalation-policies", body(org)).status_code == 403
        admin = api(org.admin)
        listed = admin.get("/escalation-policies").json()
        assert [p["severity"] for p in listed["items"]] == [1, 2, 3, 4]
        created = admin.post("/escalation-policies", body(org), headers={"Idempotency-Key": "p-1"})
        assert created.status_code == 201, created.json()
        data = created.json()
        assert data["applies_to"] == {
            "scope": "service",
            "id": org.internet.pk,
            "name": "Internet access",
        }
        assert data["calendar"]["name"] == "24x7"
        assert [s["kind"] for s in data["steps"]] == [s["kind"] for s in POLICY["steps"]]
        assert data["steps"][1]["ack_within"] == 120
        again = admin.post("/escalation-policies", body(org), headers={"Idempotency-Key": "p-1"})
        assert again.json()["id"] == data["id"]
        pk = data["id"]
        changed = admin.put(
            f"/escalation-policies/{pk}", body(org, resolve_within=3600),
            headers={"If-Match": created["ETag"]},
        )  # fmt: skip
        assert changed.status_code == 200 and changed.json()["resolve_within"] == 3600
        stale = admin.put(
            f"/escalation-policies/{pk}", body(org), headers={"If-Match": created["ETag"]}
        )
        assert stale.status_code == 412
        assert admin.delete(f"/escalation-policies/{pk}").status_code == 204
        assert admin.get(f"/escalation-policies/{pk}").status_code == 404

    @pytest.mark.parametrize(
        ("changes", "loc"),
        [
            ({"severity": 7}, ["body", "severity"]),
            ({"respond_within": 0}, ["body", "payload", "respond_within"]),
            ({"steps": [{"kind": "assign", "after": 0}]}, ["body", "steps", "0", "support_level"]),
            ({"steps": [{"kind": "webhook", "after": 0}]}, ["body", "steps", "0", "url"]),
            ({"steps": [{"kind": "notify_manager", "support_level": 2}]}, ["body", "steps", "0", "support_level"]),
            ({"steps": [{"kind": "assign", "support_level": 2, "ack_within": 60}]}, ["body", "steps", "0", "ack_within"]),
            ({"steps": [{"kind": "teleport"}]}, ["body", "payload", "steps", 0, "kind"]),
            ({"applies_to": {"scope": "service"}}, ["body", "applies_to", "id"]),
            ({"applies_to": {"scope": "all"}, "severity": 1}, ["body", "applies_to"]),
            ({"calendar": 999}, ["body", "calendar"]),
            ({"name": "Severity 1: more than 50 users cannot work"}, ["body", "name"]),
            ({"unknown": 1}, ["body", "payload", "unknown"]),
        ],
    )  # fmt: skip
    def test_invalid_policies_are_422_naming_the_field(
        self, org: Org, api: Api, changes: dict[str, Any], loc: list[Any]
    ) -> None:
        response = api(org.admin).post("/escalation-policies", body(org, **changes))
        assert response.status_code == 422, response.json()
        assert response.json()["detail"][0]["loc"] == loc

    def test_simulate_flags_and_due_times(self, org: Org, api: Api) -> None:
        admin = api(org.admin)
        data = body(org, offsets="from_open", steps=[
            {"kind": "assign", "support_level": 3, "after": 600},
            {"kind": "assign", "support_level": 2, "after": 900},
            {"kind": "page", "support_level": 2, "after": 300},
            {"kind": "page", "support_level": 2, "after": 300},
            {"kind": "notify_manager", "after": 9000},
        ])  # fmt: skip
        pk = admin.post("/escalation-policies", data).json()["id"]
        result = api(org.desk_agent).get(
            f"/escalation-policies/{pk}/simulate", opened_at="2025-03-10T08:00:00Z", severity=1
        )
        assert result.status_code == 200, result.json()
        sim = result.json()
        assert sim["resolve_by"] == "2025-03-10T10:00:00Z"
        assert [s["due_at"] for s in sim["steps"]][:2] == [
            "2025-03-10T08:10:00Z",
            "2025-03-10T08:15:00Z",
        ]
        assert [s["flags"] for s in sim["steps"]] == [
            [], ["unreachable"], ["out_of_order"], ["out_of_order", "overlap"],
            ["after_resolve_target"],
        ]  # fmt: skip
        assert [t["percent"] for t in sim["clocks"][0]["thresholds"]] == [50, 75, 90, 100]
        assert "severity 2" in sim["warnings"][0]

    def test_simulate_table_4_in_business_hours(self, org: Org, api: Api) -> None:
        calendars = api(org.admin).get("/business-calendars").json()
        office = next(c for c in calendars if c["name"] == "Business hours, Moscow")
        sev3 = policy(3)
        sev3.calendar_id = office["id"]
        sev3.save()
        # Friday 17:00 Moscow: the 2nd line at 17:30, the 3rd line on Monday 10:30.
        sim = (
            api(org.admin)
            .get(f"/escalation-policies/{sev3.pk}/simulate", opened_at="2025-03-14T14:00:00Z")
            .json()
        )
        assert [s["due_at"] for s in sim["steps"]] == [
            "2025-03-14T14:00:00Z", "2025-03-14T14:30:00Z", "2025-03-17T07:30:00Z",
            "2025-03-17T09:30:00Z",
        ]  # fmt: skip


class TestIncidentPlan:
    def test_plan_shows_every_step_with_due_time_and_state(self, org: Org, api: Api) -> None:
        incident = create(org, affected_users=60)
        run_worker(T0)
        with at(T0 + minutes(10)):
            plan = api(org.desk_agent).get(f"/incidents/{incident.pk}/escalation-plan")
        assert plan.status_code == 200, plan.json()
        data = plan.json()
        assert data["policy"]["name"].startswith("Severity 1") and data["status"] == "running"
        assert [(s["step"], s["kind"], s["support_level"], s["state"]) for s in data["steps"]] == [
            (1, "assign", 1, "skipped"), (2, "assign", 2, "done"), (3, "assign", 3, "pending"),
            (4, "notify_manager", None, "pending"), (5, "emergency_meeting", None, "pending"),
        ]  # fmt: skip
        assert data["steps"][2]["due_at"] == "2025-03-10T08:30:00Z"
        assert data["steps"][0]["detail"] == "already at the 1st line"
        respond = data["clocks"][0]
        assert (respond["name"], respond["elapsed_seconds"], respond["remaining_seconds"]) == (
            "respond", 600.0, 300.0,
        )  # fmt: skip
        assert respond["due_at"] == "2025-03-10T08:15:00Z" and not respond["breached"]
        assert [h["step"] for h in data["history"]] == [1, 2]

    def test_plan_flags_for_this_incident(self, org: Org, api: Api) -> None:
        org.net_eng.is_active = False
        org.net_eng.save()
        incident = create(org, affected_users=60)
        with at(T0):
            incidents.do_set_pending(
                incident=incident.pk, actor=org.desk_agent, reason="awaiting_vendor"
            )
        paused = api(org.desk_agent).get(f"/incidents/{incident.pk}/escalation-plan").json()
        assert paused["status"] == "paused" and paused["steps"][0]["state"] == "paused"
        assert paused["respond_by"] is None
        with at(T0 + minutes(1)):
            incidents.do_accept(incident=incident.pk, actor=org.desk_agent)
            data = api(org.desk_agent).get(f"/incidents/{incident.pk}/escalation-plan").json()
        flags = {s["step"]: s["flags"] for s in data["steps"]}
        assert flags[1] == ["unreachable"] and flags[3] == ["no_group"]

    def test_sla_clocks_for_the_reporter_too(self, org: Org, api: Api) -> None:
        incident = create(org, affected_users=3)
        with at(T0 + minutes(90)):
            data = api(org.reporter).get(f"/incidents/{incident.pk}/sla").json()
        respond, resolve = data["clocks"]
        assert respond["breached"] and respond["remaining_seconds"] == -1800.0
        assert (resolve["elapsed_seconds"], resolve["due_at"]) == (5400.0, "2025-03-10T16:00:00Z")
        assert api(org.reporter2).get(f"/incidents/{incident.pk}/sla").status_code == 404
        assert api(org.reporter).get(f"/incidents/{incident.pk}/escalation-plan").status_code == 403

    def test_incident_without_policy(self, org: Org, api: Api) -> None:
        EscalationPolicy.objects.filter(severity=3).delete()
        incident = create(org, affected_users=3)
        data = api(org.desk_agent).get(f"/incidents/{incident.pk}/escalation-plan").json()
        assert data["status"] == "none" and data["steps"] == [] and data["warnings"]
        assert api(org.desk_agent).get(f"/incidents/{incident.pk}/sla").json()["clocks"] == []


class TestCalendars:
    def test_calendar_crud(self, org: Org, api: Api) -> None:
        admin = api(org.admin)
        created = admin.post("/business-calendars", {
            "name": "Berlin office", "kind": "business_hours", "time_zone": "Europe/Berlin",
            "hours": {"mon": [["08:00", "17:00"]], "fri": [["08:00", "14:00"]]}, "country": "de",
            "extra_holidays": ["2025-12-24"],
        })  # fmt: skip
        assert created.status_code == 201, created.json()
        assert created.json()["country"] == "DE"
        pk = created.json()["id"]
        bad = admin.put(f"/business-calendars/{pk}", {"name": "Berlin office", "kind": "business_hours",
                                                     "time_zone": "Europe/Nowhere"})  # fmt: skip
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "time_zone"]
        never = admin.put(f"/business-calendars/{pk}", {"name": "Berlin office", "kind": "business_hours",
                                                       "hours": {"mon": [["09:00", "09:00"]]}})  # fmt: skip
        assert never.status_code == 422 and never.json()["detail"][0]["loc"] == ["body", "hours"]
        assert api(org.desk_agent).post("/business-calendars", {"name": "x"}).status_code == 403
        in_use = policy(1).calendar_id
        assert admin.delete(f"/business-calendars/{in_use}").status_code == 409
        assert admin.delete(f"/business-calendars/{pk}").status_code == 204
