"""The incidents API: create, read, update, actions, ETags, idempotency, validation, permissions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from servicedesk.accounts.models import User
from servicedesk.incidents.models import Incident, IncidentEvent
from servicedesk.testing.api import ApiClient
from servicedesk.testing.org import Org

pytestmark = pytest.mark.django_db

Api = Callable[[User | None], ApiClient]


def new_incident(client: ApiClient, **body: Any) -> dict[str, Any]:
    body.setdefault("title", "VPN drops every ten minutes")
    response = client.post("/incidents", body)
    assert response.status_code == 201, response.content
    return response.json()


class TestCreateAndRead:
    def test_create_by_agent_for_a_reporter(self, org: Org, api: Api) -> None:
        desk = api(org.desk_agent)
        response = desk.post("/incidents", {"title": "Cannot print", "reporter": org.reporter.pk,
                                            "configuration_item": org.router.pk, "affected_users": 12})  # fmt: skip
        assert response.status_code == 201
        body = response.json()
        assert body["number"] == f"INC-{body['id']:06d}"
        assert body["severity"] == 2 and body["support_level"] == 1 and body["status"] == "new"
        assert body["reporter"] == {"id": org.reporter.pk, "name": str(org.reporter)}
        assert body["owner_group"]["name"] == "Service Desk"
        assert body["technology"]["name"] == "Network"
        assert response["ETag"] == f'"{body["id"]}.1"'
        assert response["Location"] == f"/api/v1/incidents/{body['id']}"
        assert "resolved" in body["allowed_transitions"]

    def test_reporter_defaults_to_the_caller(self, org: Org, api: Api) -> None:
        body = new_incident(api(org.reporter))
        assert body["reporter"]["id"] == org.reporter.pk and body["source"] == "portal"

    def test_unauthenticated_is_401(self, org: Org, api: Api) -> None:
        response = api(None).get("/incidents")
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")

    def test_revoked_token_is_401(self, org: Org, api: Api) -> None:
        from servicedesk.accounts.models import ApiToken
        from servicedesk.accounts.services import do_revoke_token

        client = api(org.desk_agent)
        assert client.get("/incidents").status_code == 200
        do_revoke_token(token=ApiToken.objects.get(user=org.desk_agent))
        assert client.get("/incidents").status_code == 401


class TestValidation:
    @pytest.mark.parametrize(
        ("body", "loc"),
        [
            ({"title": ""}, ["body", "payload", "title"]),
            ({"title": "x\x00y"}, ["body", "payload", "title"]),
            ({"title": "ok", "affected_users": 10**12}, ["body", "payload", "affected_users"]),
            ({"title": "ok", "affected_users": -1}, ["body", "payload", "affected_users"]),
            ({"title": "ok", "service": 2**40}, ["body", "payload", "service"]),
            ({"title": "ok", "impact": 7}, ["body", "payload", "impact"]),
            ({"title": "ok", "colour": "red"}, ["body", "payload", "colour"]),
            (
                {"title": "ok", "description": "bad \ud800 surrogate"},
                ["body", "payload", "description"],
            ),
        ],
    )
    def test_bad_input_is_422_with_the_field(
        self, org: Org, api: Api, body: dict[str, Any], loc: list[str]
    ) -> None:
        before = Incident.objects.count()
        response = api(org.desk_agent).post("/incidents", body)
        assert response.status_code == 422, response.content
        assert loc in [d["loc"] for d in response.json()["detail"]]
        assert Incident.objects.count() == before

    def test_unknown_reference_names_the_field(self, org: Org, api: Api) -> None:
        response = api(org.desk_agent).post("/incidents", {"title": "x", "service": 999999})
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "service"]

    def test_huge_path_id_is_422_not_500(self, org: Org, api: Api) -> None:
        assert api(org.desk_agent).get(f"/incidents/{2**63}").status_code == 422


class TestConcurrency:
    def test_if_match_stale_is_412_and_changes_nothing(self, org: Org, api: Api) -> None:
        desk = api(org.desk_agent)
        created = new_incident(desk)
        url = f"/incidents/{created['id']}"
        etag = desk.get(url)["ETag"]
        first = desk.patch(url, {"title": "First edit"}, headers={"If-Match": etag})
        assert first.status_code == 200 and first["ETag"] != etag
        second = desk.patch(url, {"title": "Second edit"}, headers={"If-Match": etag})
        assert second.status_code == 412
        assert desk.get(url).json()["title"] == "First edit"
        action = desk.post(f"{url}/accept", headers={"If-Match": etag})
        assert action.status_code == 412

    def test_idempotency_key_returns_the_first_result(self, org: Org, api: Api) -> None:
        desk = api(org.desk_agent)
        headers = {"Idempotency-Key": "create-42"}
        first = desk.post("/incidents", {"title": "Printer"}, headers=headers)
        again = desk.post("/incidents", {"title": "Printer"}, headers=headers)
        assert first.status_code == again.status_code == 201
        assert first.json()["id"] == again.json()["id"]
        assert Incident.objects.filter(title="Printer").count() == 1
        other = desk.post("/incidents", {"title": "Scanner"}, headers=headers)
        assert other.status_code == 422
        assert other.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]

    def test_failed_create_does_not_burn_the_key(self, org: Org, api: Api) -> None:
        desk = api(org.desk_agent)
        headers = {"Idempotency-Key": "retry-me"}
        assert (
            desk.post("/incidents", {"title": "x", "service": 999999}, headers=headers).status_code
            == 422
        )
        assert desk.post("/incidents", {"title": "x"}, headers=headers).status_code == 201


class TestActions:
    def test_full_cycle_through_the_api(self, org: Org, api: Api) -> None:
        desk, ops, user = api(org.desk_agent), api(org.net_ops_agent), api(org.reporter)
        incident = new_incident(desk, reporter=org.reporter.pk, configuration_item=org.router.pk)
        url = f"/incidents/{incident['id']}"
        assert desk.post(f"{url}/accept").json()["status"] == "in_progress"
        escalated = desk.post(
            f"{url}/escalate", {"reason": "insufficient_knowledge", "comment": "routing"}
        )
        assert escalated.status_code == 200
        assert escalated.json()["assigned_group"]["name"] == "Network Operations"
        assert ops.post(f"{url}/accept").json()["assignee"]["id"] == org.net_ops_agent.pk
        resolved = ops.post(
            f"{url}/resolve", {"resolution_code": "configuration", "resolution": "fixed route"}
        )
        assert resolved.json()["status"] == "resolved"
        assert user.post(f"{url}/reopen", {"reason": "still down"}).json()["reopen_count"] == 1
        ops.post(
            f"{url}/resolve", {"resolution_code": "configuration", "resolution": "really fixed"}
        )
        closed = user.post(f"{url}/close", {"satisfaction": 5})
        assert closed.json()["status"] == "closed" and closed.json()["satisfaction"] == 5
        timeline = desk.get(f"{url}/timeline").json()
        assert [e["type"] for e in timeline] == [
            "created", "assigned", "escalated", "assigned", "resolved", "reopened", "resolved", "closed",
        ]  # fmt: skip
        assert timeline[2]["payload"]["kind"] == "functional"
        assert timeline[2]["actor"]["id"] == org.desk_agent.pk

    def test_illegal_transition_is_409_with_allowed_states(self, org: Org, api: Api) -> None:
        desk = api(org.desk_agent)
        incident = new_incident(desk)
        url = f"/incidents/{incident['id']}"
        desk.post(f"{url}/resolve", {"resolution_code": "other", "resolution": "done"})
        response = desk.post(f"{url}/pending", {"reason": "awaiting_user"})
        assert response.status_code == 409
        assert response.json()["allowed"] == ["closed", "in_progress"]
        assert response.json()["status"] == "resolved"

    def test_escalation_without_receiving_group_is_409(self, org: Org, api: Api) -> None:
        from servicedesk.testing.factories import TechnologyFactory

        tech = TechnologyFactory.create(name="Telephony", slug="telephony")
        desk = api(org.desk_agent)
        incident = new_incident(desk, technology=tech.pk)
        response = desk.post(f"/incidents/{incident['id']}/escalate", {"reason": "other"})
        assert response.status_code == 409 and "level 2" in response.json()["detail"]

    def test_comments_and_internal_notes(self, org: Org, api: Api) -> None:
        desk, user = api(org.desk_agent), api(org.reporter)
        incident = new_incident(desk, reporter=org.reporter.pk)
        url = f"/incidents/{incident['id']}/comments"
        assert desk.post(url, {"body": "checked the logs"}).json()["public"] is False
        assert desk.post(url, {"body": "we are on it", "public": True}).status_code == 201
        assert user.post(url, {"body": "thanks"}).json()["public"] is True
        assert user.post(url, {"body": "secret", "public": False}).status_code == 403
        assert [c["body"] for c in user.get(url).json()] == ["we are on it", "thanks"]
        assert len(desk.get(url).json()) == 3
        user_timeline = user.get(f"/incidents/{incident['id']}/timeline").json()
        assert sum(e["type"] == "commented" for e in user_timeline) == 2

    def test_tasks(self, org: Org, api: Api) -> None:
        from servicedesk.testing.factories import PartnerFactory

        desk = api(org.desk_agent)
        incident = new_incident(desk)
        url = f"/incidents/{incident['id']}/tasks"
        partner = PartnerFactory.create(name="Cisco TAC")
        task = desk.post(
            url,
            {"title": "Open a TAC case", "partner": partner.pk, "due_at": "2020-01-01T10:00:00Z"},
        )
        assert task.status_code == 201 and task.json()["overdue"] is True
        done = desk.patch(f"{url}/{task.json()['id']}", {"done": True})
        assert done.json()["done_at"] is not None and done.json()["overdue"] is False


class TestPermissions:
    def test_end_user_sees_only_their_own(self, org: Org, api: Api) -> None:
        desk = api(org.desk_agent)
        mine = new_incident(desk, reporter=org.reporter.pk)
        theirs = new_incident(desk, reporter=org.reporter2.pk)
        user = api(org.reporter)
        assert [i["id"] for i in user.get("/incidents").json()["items"]] == [mine["id"]]
        assert user.get(f"/incidents/{theirs['id']}").status_code == 404
        assert user.get(f"/incidents/{theirs['id']}/timeline").status_code == 404
        assert user.post(f"/incidents/{theirs['id']}/comments", {"body": "hi"}).status_code == 404

    def test_end_user_cannot_work_incidents(self, org: Org, api: Api) -> None:
        incident = new_incident(api(org.desk_agent), reporter=org.reporter.pk)
        user = api(org.reporter)
        url = f"/incidents/{incident['id']}"
        assert user.post(f"{url}/accept").status_code == 403
        assert user.post(f"{url}/escalate", {"reason": "other"}).status_code == 403
        assert user.patch(url, {"title": "mine now"}).status_code == 403
        assert IncidentEvent.objects.filter(incident_id=incident["id"]).count() == 1

    def test_agent_of_another_group_cannot_act(self, org: Org, api: Api) -> None:
        desk = api(org.desk_agent)
        incident = new_incident(desk, configuration_item=org.router.pk)
        desk.post(f"/incidents/{incident['id']}/escalate", {"reason": "other"})
        response = api(org.mail_ops_agent).post(f"/incidents/{incident['id']}/accept")
        assert response.status_code == 403


class TestList:
    def test_filters_and_cursor_pagination(self, org: Org, api: Api) -> None:
        desk = api(org.desk_agent)
        ids = [
            new_incident(desk, title=f"Incident {i}", affected_users=i * 20)["id"] for i in range(5)
        ]
        page1 = desk.get("/incidents", limit=2).json()
        page2 = desk.get("/incidents", limit=2, cursor=page1["next"]).json()
        page3 = desk.get("/incidents", limit=2, cursor=page2["next"]).json()
        seen = [i["id"] for i in page1["items"] + page2["items"] + page3["items"]]
        assert seen == sorted(ids, reverse=True) and page3["next"] is None
        severe = desk.get("/incidents", severity=[1]).json()["items"]
        assert {i["title"] for i in severe} == {"Incident 3", "Incident 4"}
        number = f"INC-{ids[2]:06d}"
        assert [i["id"] for i in desk.get("/incidents", text=number).json()["items"]] == [ids[2]]
        assert desk.get("/incidents", text="Incident 1").json()["items"][0]["id"] == ids[1]
        assert desk.get("/incidents", cursor="garbage").status_code == 422
        assert desk.get("/incidents", status=["nope"]).status_code == 422

    def test_list_issues_a_fixed_number_of_queries(
        self, org: Org, api: Api, django_assert_max_num_queries: Any
    ) -> None:
        desk = api(org.desk_agent)
        for i in range(30):
            new_incident(desk, title=f"Incident {i}", configuration_item=org.router.pk)
        # token lookup + page + one query per referenced model (users, support groups,
        # service, CI, technology, user group, category); nothing per row
        with django_assert_max_num_queries(9):
            assert len(desk.get("/incidents", limit=30).json()["items"]) == 30
        incident_id = Incident.objects.first().pk  # type: ignore[union-attr]
        with django_assert_max_num_queries(3):
            assert desk.get(f"/incidents/{incident_id}").status_code == 200


def test_list_and_create_answer_in_the_declared_schema_exactly(org: Org, api: Api) -> None:
    """The list and the create go out as built (``prebuilt_json``): every item must be
    what the declared schema would have let through, field for field, and the detail's
    twin."""
    from servicedesk.core.schemas import PageOut
    from servicedesk.incidents.schemas import IncidentOut

    desk = api(org.desk_agent)
    made = new_incident(desk, configuration_item=org.router.pk, affected_users=12)
    assert IncidentOut.model_validate(made) and set(made) == set(IncidentOut.model_fields)
    assert made == desk.get(f"/incidents/{made['id']}").json()  # the create answers alike
    accepted = desk.post(f"/incidents/{made['id']}/accept")
    assert accepted.status_code == 200 and accepted["ETag"] == f'"{made["id"]}.2"'
    assert IncidentOut.model_validate(accepted.json()).status == "in_progress"
    assert set(accepted.json()) == set(IncidentOut.model_fields)
    new_incident(desk, title="Bare")
    response = desk.get("/incidents")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    body = response.json()
    page = PageOut[IncidentOut].model_validate(body)
    assert len(page.items) == 2 and body["next"] is None
    for item in body["items"]:
        assert set(item) == set(IncidentOut.model_fields)
        assert item == desk.get(f"/incidents/{item['id']}").json()


def test_patch_null_on_a_required_field_is_422(org: Org, api: Api) -> None:
    desk = api(org.desk_agent)
    incident = new_incident(desk)
    response = desk.patch(f"/incidents/{incident['id']}", {"urgency": None, "service": None})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "urgency"]
    cleared = desk.patch(
        f"/incidents/{incident['id']}", {"service": None, "expected_resolution_at": None}
    )
    assert cleared.status_code == 200


def test_writes_issue_a_pinned_number_of_queries(
    org: Org, api: Api, django_assert_max_num_queries: Any
) -> None:
    desk = api(org.desk_agent)
    new_incident(desk)  # warm caches that are not per-request
    # Counts include the test transaction's SAVEPOINT/RELEASE pair (BEGIN/COMMIT in production)
    # and everything the default notification rules do in the same transaction (rules,
    # recipients, templates, one savepoint per rule so a broken template cannot undo the change)
    # the reports' mark on the incident (its facts are recomputed later, in batches), and
    # the escalation plan and SLA clocks. Configuration (bands, matrix, groups, rules, templates,
    # policies, webhooks) comes from the per-process cache: one token read per operation.
    with django_assert_max_num_queries(16):
        created = new_incident(desk, configuration_item=org.router.pk, affected_users=12)
    with django_assert_max_num_queries(17):
        assert desk.post(f"/incidents/{created['id']}/accept").status_code == 200
    with django_assert_max_num_queries(33):
        escalated = desk.post(f"/incidents/{created['id']}/escalate", {"reason": "other"})
        assert escalated.status_code == 200
