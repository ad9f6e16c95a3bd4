"""The problems API: contract paths, actions, links, RCA, reviews, candidates, trends."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from servicedesk.accounts.models import User
from servicedesk.incidents import services as incident_services
from servicedesk.incidents.models import Incident
from servicedesk.problems.models import Candidate
from servicedesk.testing.api import ApiClient
from servicedesk.testing.factories import CategoryFactory
from servicedesk.testing.org import Org

pytestmark = pytest.mark.django_db

Api = Callable[[User | None], ApiClient]


def incident(org: Org, **kw: Any) -> Incident:
    kw.setdefault("title", "Cannot receive e-mail")
    kw.setdefault("reporter", org.reporter)
    return incident_services.do_create_incident(actor=org.desk_agent, **kw)


def new_problem(client: ApiClient, **body: Any) -> dict[str, Any]:
    body.setdefault("title", "Mail delivery delays")
    response = client.post("/problems", body)
    assert response.status_code == 201, response.content
    return response.json()


class TestCrud:
    def test_create_read_list(self, org: Org, api: Api) -> None:
        pm = api(org.problem_manager)
        i = incident(org, service=org.mail, affected_users=3)
        body = new_problem(pm, service=org.mail.pk, incidents=[i.pk], cause_estimate_hours=8,
                           business_impact=3, team=[org.mail_engineer.pk])  # fmt: skip
        assert body["number"] == f"PRB-{body['id']:06d}" and body["status"] == "new"
        assert body["owner_group"] == {"id": org.mail_ops.pk, "name": "Mail Operations"}
        assert body["linked_incidents"] == 1 and body["cause_estimate_hours"] == 8
        assert body["team"] == [{"id": org.mail_engineer.pk, "name": str(org.mail_engineer)}]
        assert body["score"] > 0 and body["overrun"] is False
        assert set(body["allowed_transitions"]) == {"under_investigation", "deferred", "closed"}
        got = pm.get(f"/problems/{body['id']}")
        assert got.status_code == 200 and got["ETag"] == f'"{body["id"]}.1"'
        listed = pm.get("/problems", status=["new"]).json()
        assert [p["id"] for p in listed["items"]] == [body["id"]] and listed["next"] is None
        assert pm.get("/problems", text=body["number"]).json()["items"][0]["id"] == body["id"]

    def test_end_users_see_nothing(self, org: Org, api: Api) -> None:
        body = new_problem(api(org.problem_manager))
        user = api(org.reporter)
        assert user.get("/problems").status_code == 403
        assert user.get(f"/problems/{body['id']}").status_code == 403
        assert user.post("/problems", {"title": "x"}).status_code == 403

    def test_validation_and_idempotency(self, org: Org, api: Api) -> None:
        pm = api(org.problem_manager)
        bad = pm.post("/problems", {"title": "x", "priority": 9})
        assert bad.status_code == 422
        assert pm.post("/problems", {"title": "x", "unknown": 1}).status_code == 422
        assert pm.post("/problems", {"title": "x\x00"}).status_code == 422
        headers = {"Idempotency-Key": "k-1"}
        first = pm.post("/problems", {"title": "Once"}, headers=headers)
        again = pm.post("/problems", {"title": "Once"}, headers=headers)
        assert first.json()["id"] == again.json()["id"]

    def test_patch_with_etag(self, org: Org, api: Api) -> None:
        pm = api(org.problem_manager)
        body = new_problem(pm)
        stale = f'"{body["id"]}.0"'
        assert (
            pm.patch(
                f"/problems/{body['id']}", {"priority": 1}, headers={"If-Match": stale}
            ).status_code
            == 412
        )
        ok = pm.patch(f"/problems/{body['id']}", {"priority": 1, "cost_estimate": "2500.00"},
                      headers={"If-Match": body["etag"]})  # fmt: skip
        assert ok.status_code == 200 and ok.json()["priority"] == 1 and ok.json()["version"] == 2
        assert ok.json()["cost_estimate"] == "2500.00"


class TestActions:
    def test_life_cycle_through_the_api(self, org: Org, api: Api) -> None:
        pm = api(org.problem_manager)
        pid = new_problem(pm, service=org.mail.pk)["id"]
        assert pm.post(f"/problems/{pid}/resolve", {"resolution": "x"}).status_code == 409
        conflict = pm.post(f"/problems/{pid}/resolve", {"resolution": "x"}).json()
        assert conflict["status"] == "new" and "under_investigation" in conflict["allowed"]
        assert (
            pm.post(f"/problems/{pid}/defer", {"reason": "capacity"}).json()["status"] == "deferred"
        )
        assert (
            pm.post(f"/problems/{pid}/investigate", {"comment": "go"}).json()["status"]
            == "under_investigation"
        )
        escalated = pm.post(f"/problems/{pid}/escalate", {"reason": "code defect"}).json()
        assert (
            escalated["support_level"] == 3
            and escalated["assigned_group"]["name"] == "Mail Engineering"
        )
        body = pm.post(f"/problems/{pid}/root-cause",
                       {"root_cause": "Quota too small", "workaround": "Archive", "audience": "portal"}).json()  # fmt: skip
        assert body["status"] == "root_cause_known" and body["workaround"] == "Archive"
        assert len(body["known_errors"]) == 1
        assert pm.post(f"/problems/{pid}/de-escalate").json()["support_level"] == 2
        assert (
            pm.post(f"/problems/{pid}/resolve", {"resolution": "Quota raised"}).json()["status"]
            == "resolved"
        )
        assert pm.post(f"/problems/{pid}/close").json()["status"] == "closed"
        types = [e["type"] for e in pm.get(f"/problems/{pid}/timeline").json()]
        assert types == ["created", "deferred", "status_changed", "escalated", "root_cause_found",
                         "workaround_published", "de_escalated", "resolved", "closed"]  # fmt: skip
        spans = pm.get(f"/problems/{pid}/spans").json()
        assert [(s["support_level"], s["end_reason"]) for s in spans] == [
            (2, "deferred"), (2, "escalated"), (3, "de_escalated"), (2, "resolved")]  # fmt: skip
        score = pm.get(f"/problems/{pid}/score").json()
        assert {f["key"] for f in score["factors"]} == {"linked_incidents", "severity", "users_affected",
                                                        "business_impact", "cost"}  # fmt: skip

    def test_assign_and_permissions(self, org: Org, api: Api) -> None:
        pid = new_problem(api(org.problem_manager), service=org.mail.pk)["id"]
        assert api(org.net_ops_agent).post(f"/problems/{pid}/investigate").status_code == 403
        body = (
            api(org.mail_ops_agent)
            .post(f"/problems/{pid}/assign", {"assignee": org.mail_ops_agent.pk})
            .json()
        )
        assert body["assignee"]["id"] == org.mail_ops_agent.pk


class TestIncidents:
    def test_link_list_unlink(self, org: Org, api: Api) -> None:
        pm = api(org.problem_manager)
        pid = new_problem(pm)["id"]
        i = incident(org)
        linked = pm.post(f"/problems/{pid}/incidents", {"incident": i.pk, "set_pending": True})
        assert linked.status_code == 201 and linked.json()["status"] == "pending"
        assert [x["incident"]["id"] for x in pm.get(f"/problems/{pid}/incidents").json()] == [i.pk]
        other = new_problem(pm, title="Other")["id"]
        assert pm.post(f"/problems/{other}/incidents", {"incident": i.pk}).status_code == 409
        assert pm.post(f"/problems/{pid}/incidents", {"incident": 999999}).status_code == 422
        assert pm.delete(f"/problems/{pid}/incidents/{i.pk}").status_code == 204
        assert pm.delete(f"/problems/{pid}/incidents/{i.pk}").status_code == 404
        assert pm.get(f"/problems/{pid}").json()["linked_incidents"] == 0


class TestRca:
    def test_artefacts_and_pareto(self, org: Org, api: Api) -> None:
        pm = api(org.problem_manager)
        pid = new_problem(pm)["id"]
        hardware, software = CategoryFactory(name="Hardware"), CategoryFactory(name="Software")
        for title, category in [("Mail server disk full", hardware), ("Mail server disk errors", hardware),
                                ("Mail server disk slow", hardware), ("Outlook crash", software)]:  # fmt: skip
            pm.post(
                f"/problems/{pid}/incidents",
                {"incident": incident(org, title=title, category=category).pk},
            )
        fishbone = {"categories": [
            {"name": "Technology", "causes": [{"text": "Disk too small", "root_cause": True,
                                              "sub_causes": [{"text": "No capacity planning"}]}]},
            {"name": "Process", "causes": [{"text": "No quota alerts"}]}]}  # fmt: skip
        body = pm.put(f"/problems/{pid}/rca/ishikawa", fishbone).json()
        assert body["ishikawa"][0] == {"name": "technology", "causes": [
            {"text": "Disk too small", "root_cause": True,
             "sub_causes": [{"text": "No capacity planning", "root_cause": False, "sub_causes": []}]}]}  # fmt: skip
        whys = {"steps": [{"why": "Why no mail?", "because": "Disk full"},
                          {"why": "Why full?", "because": "No alerts"}]}  # fmt: skip
        assert len(pm.put(f"/problems/{pid}/rca/five-whys", whys).json()["five_whys"]) == 2
        kt = {
            "rows": [
                {
                    "dimension": "where",
                    "is": "mail-01",
                    "is_not": "mail-02",
                    "distinctions": "older disk",
                }
            ]
        }
        body = pm.put(f"/problems/{pid}/rca/kepner-tregoe", kt).json()
        assert (
            body["kepner_tregoe"][0]["is"] == "mail-01"
            and body["kepner_tregoe"][0]["is_not"] == "mail-02"
        )
        pareto = body["pareto"]["category"]
        assert [(r["key"], r["count"], r["cumulative_percent"], r["vital_few"]) for r in pareto] == [
            ("Hardware", 3, 75.0, True), ("Software", 1, 100.0, True)]  # fmt: skip
        symptoms = pm.get(f"/problems/{pid}/rca/pareto", by="symptom").json()
        assert symptoms[0]["count"] == 3 and symptoms[0]["key"] in {"mail", "server", "disk"}
        assert pm.get(f"/problems/{pid}/rca/pareto", by="colour").status_code == 422
        assert (
            pm.put(
                f"/problems/{pid}/rca/kepner-tregoe", {"rows": [{"dimension": "why"}]}
            ).status_code
            == 422
        )
        types = [e["type"] for e in pm.get(f"/problems/{pid}/timeline").json()]
        assert types.count("rca_updated") == 3

    def test_reviews_with_follow_ups(self, org: Org, api: Api) -> None:
        pm = api(org.problem_manager)
        pid = new_problem(pm, major=True)["id"]
        assert pm.post(f"/problems/{pid}/reviews", {}).status_code == 422
        review = pm.post(f"/problems/{pid}/reviews", {
            "went_well": "Fast workaround", "went_wrong": "Late detection", "lessons": "Alert on quota",
            "participants": [org.mail_ops_agent.pk],
            "actions": [{"title": "Add quota alerts", "owner": org.mail_ops_agent.pk,
                         "due_at": (timezone.now() - timedelta(days=1)).isoformat()}]}).json()  # fmt: skip
        assert review["actions"][0]["overdue"] is True
        rid, aid = review["id"], review["actions"][0]["id"]
        added = pm.post(
            f"/problems/{pid}/reviews/{rid}/actions",
            {"title": "Runbook", "owner": org.mail_engineer.pk},
        )
        assert added.status_code == 201 and len(added.json()["actions"]) == 2
        done = api(org.mail_ops_agent).post(f"/problems/{pid}/reviews/{rid}/actions/{aid}/done")
        assert done.status_code == 200 and done.json()["actions"][0]["done_at"] is not None
        assert [r["id"] for r in pm.get(f"/problems/{pid}/reviews").json()] == [rid]


class TestInputs:
    def test_candidates_and_review_queue(self, org: Org, api: Api) -> None:
        pm = api(org.problem_manager)
        severe = incident(org, affected_users=100)
        plain = incident(org, title="Printer out of toner")
        other = incident(org, title="Monitor flickers")
        queue = pm.get("/problems/review-queue").json()["items"]
        assert queue[0]["incident"]["id"] == severe.pk  # severity first
        assert queue[0]["candidate"]["source"] == "severity"
        cid = Candidate.objects.get(incident=severe).pk
        assert api(org.desk_agent).post(f"/problems/candidates/{cid}/accept", {}).status_code == 403
        accepted = pm.post(
            f"/problems/candidates/{cid}/accept", {"title": "Big outage", "priority": 1}
        )
        assert accepted.status_code == 200 and accepted.json()["source"] == "severity"
        assert pm.get("/problems/candidates", state=["accepted"]).json()["items"][0]["id"] == cid
        sent = pm.post(
            "/problems/review-queue/send", {"incidents": [plain.pk], "title": "Toner"}
        ).json()
        assert sent["source"] == "review" and sent["linked_incidents"] == 1
        assert pm.post("/problems/review-queue/dismiss", {"incidents": [other.pk]}).json() == {
            "dismissed": 1
        }
        assert pm.get("/problems/review-queue").json()["items"] == []

    def test_trends_api(self, org: Org, api: Api) -> None:
        pm = api(org.problem_manager)
        start = timezone.now() - timedelta(days=5)
        for n in range(3):
            with time_machine.travel(start + timedelta(hours=n), tick=False):
                i = incident(org, title=f"Router reboots {n}", configuration_item=org.router)
                incident_services.do_resolve(
                    incident=i, actor=org.desk_agent, resolution_code="other", resolution="ok"
                )
                incident_services.do_close(incident=i, actor=org.desk_agent)
        found = pm.get("/problems/trends", dimensions=["configuration_item"]).json()
        assert found["rules"]["min_incidents"] == 3
        assert [(c["rule"], c["label"], c["count"], c["candidate"]) for c in found["items"]] == [
            ("configuration_item", "core-router-01", 3, None)]  # fmt: skip
        assert (
            "3 closed incidents on configuration item core-router-01"
            in found["items"][0]["explanation"]
        )
        assert (
            pm.get("/problems/trends", min_incidents=4, dimensions=["configuration_item"]).json()[
                "items"
            ]
            == []
        )
        assert api(org.desk_agent).post("/problems/trends", {}).status_code == 403
        proposed = pm.post("/problems/trends", {"dimensions": ["configuration_item"]}).json()
        cid = proposed["items"][0]["candidate"]
        assert cid is not None
        again = pm.get("/problems/trends", dimensions=["configuration_item"]).json()
        assert again["items"][0]["candidate"] == cid
        problem = pm.post(f"/problems/candidates/{cid}/accept", {}).json()
        assert problem["source"] == "trend" and problem["linked_incidents"] == 3
        assert pm.get("/problems/trends").json()["items"] == []

    def test_portfolio_ranked_by_score(self, org: Org, api: Api) -> None:
        pm = api(org.problem_manager)
        low = new_problem(pm, title="Low")["id"]
        high = new_problem(pm, title="High", business_impact=5, users_affected=500)["id"]
        closed = new_problem(pm, title="Gone")["id"]
        pm.post(f"/problems/{closed}/close", {"reason": "duplicate"})
        items = pm.get("/problems/portfolio").json()["items"]
        assert [(i["rank"], i["problem"]["id"]) for i in items] == [(1, high), (2, low)]
        assert items[0]["progress_percent"] == 0 and items[0]["overrun"] is False
        assert len(pm.get("/problems/selection-factors").json()) == 5
