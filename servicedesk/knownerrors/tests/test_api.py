"""The known-errors API: KEDB, match contract, apply-workaround, fix projects, monitoring."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from servicedesk.accounts.models import User
from servicedesk.incidents import services as incident_services
from servicedesk.incidents.models import Incident
from servicedesk.testing.api import ApiClient
from servicedesk.testing.org import Org

pytestmark = pytest.mark.django_db

Api = Callable[[User | None], ApiClient]

QUOTA = {
    "title": "Mailbox quota exceeded",
    "symptoms": "The user cannot receive e-mail; senders are told the mailbox is full.",
    "root_cause": "The mailbox reached its quota.",
    "workaround": "Archive old items or raise the quota.",
}


def new_ke(client: ApiClient, **body: Any) -> dict[str, Any]:
    response = client.post("/known-errors", {**QUOTA, **body})
    assert response.status_code == 201, response.content
    return response.json()


def incident(org: Org, **kw: Any) -> Incident:
    kw.setdefault("title", "Cannot receive e-mail")
    kw.setdefault("reporter", org.reporter)
    return incident_services.do_create_incident(actor=org.desk_agent, **kw)


class TestKedb:
    def test_create_with_the_minimum_fields(self, org: Org, api: Api) -> None:
        client = api(org.mail_ops_agent)
        body = new_ke(client)
        assert body["number"] == f"KE-{body['id']:06d}"
        assert body["status"] == "open" and body["audience"] == "support" and body["published"]
        assert body["workaround"] == QUOTA["workaround"]
        assert client.get(f"/known-errors/{body['id']}")["ETag"] == f'"{body["id"]}.1"'
        for field in ("title", "symptoms", "root_cause"):
            assert client.post("/known-errors", {**QUOTA, field: ""}).status_code == 422
        missing = {k: v for k, v in QUOTA.items() if k != "workaround"}
        assert client.post("/known-errors", missing).status_code == 422

    def test_list_filters_and_end_user_view(self, org: Org, api: Api) -> None:
        client = api(org.mail_ops_agent)
        support = new_ke(client, services=[org.mail.pk])
        portal = new_ke(client, title="Password reset", audience="portal")
        assert {k["id"] for k in client.get("/known-errors").json()["items"]} == {
            support["id"],
            portal["id"],
        }
        assert [
            k["id"] for k in client.get("/known-errors", service=org.mail.pk).json()["items"]
        ] == [support["id"]]
        user = api(org.reporter)
        assert [k["id"] for k in user.get("/known-errors").json()["items"]] == [portal["id"]]
        assert user.get(f"/known-errors/{support['id']}").status_code == 404
        assert user.post("/known-errors", QUOTA).status_code == 403
        assert api(org.desk_agent).post("/known-errors", QUOTA).status_code == 403

    def test_patch_publish_withdraw_status_close(self, org: Org, api: Api) -> None:
        client = api(org.mail_ops_agent)
        kid = new_ke(client, audience="unpublished")["id"]
        patched = client.patch(
            f"/known-errors/{kid}", {"error_codes": ["5.2.2"], "priority": 2}
        ).json()
        assert patched["error_codes"] == ["5.2.2"] and patched["version"] == 2
        assert (
            client.post(f"/known-errors/{kid}/publish", {"audience": "portal"}).json()["audience"]
            == "portal"
        )
        assert (
            client.post(f"/known-errors/{kid}/withdraw", {"reason": "wrong"}).json()["published"]
            is False
        )
        conflict = client.post(f"/known-errors/{kid}/status", {"status": "fixed"})
        assert conflict.status_code == 409 and "fix_in_progress" in conflict.json()["allowed"]
        assert (
            client.post(f"/known-errors/{kid}/status", {"status": "fix_in_progress"}).json()[
                "status"
            ]
            == "fix_in_progress"
        )
        assert (
            client.post(f"/known-errors/{kid}/status", {"status": "fixed"}).json()["status"]
            == "fixed"
        )
        assert client.post(f"/known-errors/{kid}/close", {}).json()["status"] == "closed"
        types = [e["type"] for e in client.get(f"/known-errors/{kid}/timeline").json()]
        assert types == ["created", "updated", "workaround_published", "workaround_withdrawn",
                         "fix_started", "fixed", "closed"]  # fmt: skip


class TestMatch:
    def test_contract(self, org: Org, api: Api) -> None:
        client = api(org.mail_ops_agent)
        quota = new_ke(client, configuration_items=[org.mail_server.pk], error_codes=["5.2.2"])
        new_ke(client, title="VPN drops", symptoms="VPN disconnects every ten minutes",
               root_cause="DPD", workaround="Use TCP")  # fmt: skip
        response = api(org.desk_agent).post("/known-errors/match", {
            "text": "I do not receive any e-mail, the mailbox seems full",
            "configuration_item": org.mail_server.pk, "service": "E-mail",
            "technology": org.email.pk, "error_code": "5.2.2"})  # fmt: skip
        assert response.status_code == 200
        items = response.json()["items"]
        assert [i["known_error"]["id"] for i in items] == [quota["id"]]
        best = items[0]
        assert best["known_error"]["workaround"] == QUOTA["workaround"]
        assert best["score"] > best["text_score"] > 0
        assert "same configuration item: mail-01" in best["reasons"]
        assert "same error code: 5.2.2" in best["reasons"]

    def test_text_only_best_first_and_validation(self, org: Org, api: Api) -> None:
        client = api(org.mail_ops_agent)
        new_ke(client)
        vpn = new_ke(client, title="VPN disconnects", symptoms="ВПН отключается каждые десять минут",
                     root_cause="DPD", workaround="Use TCP")  # fmt: skip
        items = client.post("/known-errors/match", {"text": "впн отключился опять"}).json()["items"]
        assert items[0]["known_error"]["id"] == vpn["id"]
        assert client.post("/known-errors/match", {"text": "zzz qqq"}).json() == {"items": []}
        assert client.post("/known-errors/match", {}).status_code == 422
        assert client.post("/known-errors/match", {"text": ""}).status_code == 422
        assert (
            client.post("/known-errors/match", {"text": "x", "service": "No such"}).status_code
            == 422
        )

    def test_end_users_match_portal_workarounds_only(self, org: Org, api: Api) -> None:
        client = api(org.mail_ops_agent)
        new_ke(client)
        portal = new_ke(client, title="Mailbox full (self-help)", audience="portal")
        items = (
            api(org.reporter).post("/known-errors/match", {"text": "mailbox full"}).json()["items"]
        )
        assert [i["known_error"]["id"] for i in items] == [portal["id"]]


class TestApply:
    def test_apply_workaround_resolves(self, org: Org, api: Api) -> None:
        kid = new_ke(api(org.mail_ops_agent))["id"]
        i = incident(org)
        desk = api(org.desk_agent)
        applied = desk.post(f"/incidents/{i.pk}/apply-workaround", {"known_error": kid})
        assert applied.status_code == 200
        assert (
            applied.json()["incident_status"] == "resolved" and applied.json()["resolved"] is True
        )
        body = desk.get(f"/incidents/{i.pk}").json()
        assert body["resolution_code"] == "known_error"
        types = [e["type"] for e in desk.get(f"/incidents/{i.pk}/timeline").json()]
        assert types[-2:] == ["known_error_applied", "resolved"]
        assert (
            desk.post(f"/incidents/{i.pk}/apply-workaround", {"known_error": kid}).status_code
            == 409
        )
        caused = api(org.mail_ops_agent).get(f"/known-errors/{kid}/incidents").json()
        assert [c["incident"]["id"] for c in caused] == [i.pk]
        assert desk.get(f"/known-errors/{kid}").json()["incidents_caused"] == 1

    def test_apply_from_the_known_error_without_resolving(self, org: Org, api: Api) -> None:
        kid = new_ke(api(org.mail_ops_agent))["id"]
        i = incident(org)
        body = (
            api(org.desk_agent)
            .post(f"/known-errors/{kid}/apply", {"incident": i.pk, "resolve": False})
            .json()
        )
        assert body["incident_status"] == "new" and body["resolved"] is False
        assert (
            api(org.reporter)
            .post(f"/incidents/{i.pk}/apply-workaround", {"known_error": kid})
            .status_code
            == 403
        )
        assert (
            api(org.desk_agent)
            .post("/incidents/999999/apply-workaround", {"known_error": kid})
            .status_code
            == 404
        )


class TestFixProjects:
    def test_prioritised_list_and_life_cycle(self, org: Org, api: Api) -> None:
        eng = api(org.mail_engineer)
        kid = new_ke(api(org.mail_ops_agent))["id"]
        created = []
        for priority in (3, 1, 2, 1):
            response = eng.post("/fix-projects", {"known_error": kid, "title": f"Fix P{priority}",
                                                  "priority": priority, "cost_estimate": "1000.00"})  # fmt: skip
            assert response.status_code == 201, response.content
            created.append(response.json())
        page = eng.get("/fix-projects", limit=2).json()
        assert [f["priority"] for f in page["items"]] == [1, 1] and page["next"]
        rest = eng.get("/fix-projects", limit=2, cursor=page["next"]).json()
        assert [f["priority"] for f in rest["items"]] == [2, 3] and rest["next"] is None
        fid = created[1]["id"]
        assert eng.post(f"/fix-projects/{fid}/status", {"status": "approved"}).status_code == 403
        pm = api(org.problem_manager)
        assert (
            pm.post(f"/fix-projects/{fid}/status", {"status": "approved"}).json()["status"]
            == "approved"
        )
        started = eng.post(f"/fix-projects/{fid}/status", {"status": "in_progress"}).json()
        assert (
            started["actual_start"] is not None
            and started["known_error_status"] == "fix_in_progress"
        )
        done = eng.post(f"/fix-projects/{fid}/status", {"status": "implemented", "actual_cost": "900.00",
                                                        "change_ref": "CHG-100"}).json()  # fmt: skip
        assert done["known_error_status"] == "fixed" and done["actual_cost"] == "900.00"
        assert eng.patch(f"/fix-projects/{fid}", {"title": "Renamed"}).json()["title"] == "Renamed"
        types = [e["type"] for e in eng.get(f"/fix-projects/{fid}/timeline").json()]
        assert types == ["created", "status_changed", "status_changed", "status_changed", "updated"]
        figures = eng.get("/known-errors/figures").json()
        assert figures["fix_projects_started"] == 1 and figures["fix_projects_implemented"] == 1
        assert figures["fix_projects_cost_estimate"] == "4000.00" and figures["known_errors"] == 1
        assert api(org.reporter).get("/fix-projects").status_code == 403
        assert eng.get("/fix-projects", cursor="bogus").status_code == 422

    def test_monitoring_endpoints(self, org: Org, api: Api) -> None:
        client = api(org.mail_ops_agent)
        kid = new_ke(client)["id"]
        series = client.get(f"/known-errors/{kid}/monitoring").json()
        assert len(series["windows"]) == 5 and series["rising"] is False
        assert client.get("/known-errors/monitoring").json() == []


class TestNullsNeverFail:
    """Explicit nulls in PATCH bodies are 200 or 422, never a database error."""

    def test_patches_with_nulls(self, org: Org, api: Api) -> None:
        eng = api(org.mail_engineer)
        kid = new_ke(api(org.mail_ops_agent))["id"]
        fid = eng.post("/fix-projects", {"known_error": kid, "title": "Fix"}).json()["id"]
        pid = api(org.problem_manager).post("/problems", {"title": "P"}).json()["id"]
        pm = api(org.problem_manager)
        fields = {
            f"/known-errors/{kid}": ["title", "symptoms", "root_cause", "workaround", "permanent_fix",
                                     "keywords", "technology", "services", "configuration_items",
                                     "error_codes", "priority"],
            f"/fix-projects/{fid}": ["title", "description", "priority", "owner", "group", "planned_start",
                                     "planned_end", "cost_estimate", "actual_cost", "change_ref"],
            f"/problems/{pid}": ["title", "description", "technology", "service", "category",
                                 "configuration_items", "user_groups", "team", "owner", "priority", "major",
                                 "users_affected", "business_impact", "cost_estimate", "cause_estimate_hours"],
        }  # fmt: skip
        for path, names in fields.items():
            for name in names:
                response = pm.patch(path, {name: None})
                assert response.status_code in (200, 422), (path, name, response.content)
