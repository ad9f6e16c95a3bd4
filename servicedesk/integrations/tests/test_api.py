"""The intake endpoints over HTTP: integration tokens, real payloads, errors that say
why, the request log; and the management endpoints."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from servicedesk.accounts.models import User
from servicedesk.incidents.models import Incident, Status
from servicedesk.integrations.models import IntakeRequest, Integration
from servicedesk.testing.api import ApiClient
from servicedesk.testing.org import Org

from .helpers import am_firing, am_resolved, fixture, integration, last_request

pytestmark = pytest.mark.django_db
Api = Callable[[User | None], ApiClient]


def post(path: str, body: Any, token: str | None = None, *, query_token: bool = False,
         raw: bytes | None = None) -> Any:  # fmt: skip
    url = f"/api/v1/intake/{path}"
    headers = {}
    if token and query_token:
        url += f"?token={token}"
    elif token:
        headers["Authorization"] = f"Bearer {token}"
    data = raw if raw is not None else json.dumps(body)
    return Client().post(url, data=data, content_type="application/json", headers=headers)


class TestAlertmanagerEndpoint:
    def test_firing_then_repeat_then_resolved(self, org: Org) -> None:
        _, token = integration()
        first = post("alertmanager", am_firing(), token)
        assert first.status_code == 200, first.content
        body = first.json()
        assert body["result"] == "accepted" and body["alerts"] == 1
        (outcome,) = body["outcomes"]
        assert outcome["action"] == "opened" and outcome["key"] == "b3cdf832dd4b7a15"
        incident = Incident.objects.get(pk=outcome["incident"]["id"])
        assert outcome["incident"]["name"] == incident.number
        repeat = post("alertmanager", am_firing(), token).json()
        assert repeat["outcomes"][0]["action"] == "updated"
        resolved = post("alertmanager", am_resolved(), token).json()
        assert resolved["outcomes"][0]["action"] == "resolved"
        incident.refresh_from_db()
        assert incident.status == Status.RESOLVED and Incident.objects.count() == 1
        log = IntakeRequest.objects.order_by("id")
        assert [r.result for r in log] == ["accepted"] * 3
        assert log[0].incident_id == incident.pk and log[0].body.startswith('{"receiver"')
        assert log[0].detail == "1 opened" and log[2].detail == "1 resolved"

    def test_token_in_the_query_string(self, org: Org) -> None:
        _, token = integration()
        assert post("alertmanager", am_firing(), token, query_token=True).status_code == 200

    @pytest.mark.parametrize("token", [None, "sdi_wrong", "sd_a-user-token", ""])
    def test_without_a_valid_token_401_and_logged(self, org: Org, token: str | None) -> None:
        integration()
        response = post("alertmanager", am_firing(), token)
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")
        record = last_request()
        assert record.result == "unauthorised" and record.integration is None
        assert record.status_code == 401 and record.body == ""
        assert Incident.objects.count() == 0

    def test_a_user_api_token_is_not_an_integration_token(self, org: Org, api: Api) -> None:
        integration()
        user_token = api(org.admin).headers["Authorization"].split()[1]
        assert post("alertmanager", am_firing(), user_token).status_code == 401

    def test_disabled_integration_is_401(self, org: Org) -> None:
        am, token = integration()
        Integration.objects.filter(pk=am.pk).update(active=False)
        assert post("alertmanager", am_firing(), token).status_code == 401

    def test_a_token_of_another_kind_is_403(self, org: Org) -> None:
        _, zabbix_token = integration("zabbix")
        response = post("alertmanager", am_firing(), zabbix_token)
        assert response.status_code == 403 and "zabbix" in response.json()["detail"]
        assert last_request().result == "rejected"

    def test_not_json_is_400_with_the_reason(self, org: Org) -> None:
        _, token = integration()
        response = post("alertmanager", None, token, raw=b"{not json")
        assert response.status_code == 400
        assert response.json()["detail"].startswith("the body is not JSON")
        record = last_request()
        assert record.result == "rejected" and record.body == "{not json"
        assert response.json()["request"] == record.pk

    def test_wrong_version_is_422_naming_the_field(self, org: Org) -> None:
        _, token = integration()
        payload = am_firing() | {"version": "3"}
        response = post("alertmanager", payload, token)
        assert response.status_code == 422
        (error,) = response.json()["detail"]
        assert error["loc"] == ["body", "version"] and "version" in error["msg"]
        assert last_request().result == "rejected" and last_request().status_code == 422

    def test_a_nul_in_a_label_is_422_not_a_database_error(self, org: Org) -> None:
        _, token = integration()
        payload = am_firing()
        payload["alerts"][0]["labels"]["instance"] = "db\u000001"
        assert post("alertmanager", payload, token).status_code == 422

    def test_a_body_over_the_limit_is_413_and_logged(self, org: Org, settings: Any) -> None:
        _, token = integration()
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
        assert post("alertmanager", am_firing(), token).status_code == 413
        assert last_request().result == "rejected" and Incident.objects.count() == 0

    def test_without_a_service_desk_the_sender_is_told_to_retry(self, db: None) -> None:
        _, token = integration()
        response = post("alertmanager", am_firing(), token)
        assert response.status_code == 503 and "1st-line" in response.json()["detail"]
        record = last_request()
        assert record.result == "failed" and record.body.startswith('{"receiver"')
        assert Incident.objects.count() == 0


class TestOtherSenders:
    def test_zabbix_problem_and_recovery(self, org: Org) -> None:
        _, token = integration("zabbix")
        problem = fixture("zabbix-6.0.14_event_driven_ansible_mediatype_problem.json")
        body = post("zabbix", problem, token).json()
        assert body["outcomes"][0]["action"] == "opened"
        incident = Incident.objects.get()
        assert incident.title == "High CPU utilization (over 90% for 5m) on db01"
        assert incident.severity == 4
        # The recovery message of the same event (as a "post the macros" media type sends it).
        recovery = fixture("zabbix_mediatype_params_example.json") | {"event_value": "0"}
        assert post("zabbix", recovery, token).json()["outcomes"][0]["action"] == "resolved"

    def test_zabbix_without_event_id_is_422(self, org: Org) -> None:
        _, token = integration("zabbix")
        response = post("zabbix", {"event_name": "x"}, token)
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "event_id"]

    def test_grafana(self, org: Org) -> None:
        _, token = integration("grafana")
        assert post("grafana", fixture("grafana-unified_firing.json"), token).status_code == 200
        resolved = post("grafana", fixture("grafana-unified_resolved.json"), token).json()
        assert resolved["outcomes"][0]["action"] == "resolved"

    def test_generic(self, org: Org) -> None:
        _, token = integration("generic")
        body = {"key": "backup/db01", "title": "Nightly backup failed", "labels": {"host": "db01"},
                "severity": 3}  # fmt: skip
        outcome = post("generic", body, token).json()["outcomes"][0]
        incident = Incident.objects.get(pk=outcome["incident"]["id"])
        assert (
            incident.severity == 3 and incident.severity_reason == "set by generic test: the sender"
        )
        assert (
            post("generic", {"key": "backup/db01", "status": "resolved"}, token).status_code == 200
        )
        incident.refresh_from_db()
        assert incident.status == Status.RESOLVED

    def test_generic_rejects_unknown_fields(self, org: Org) -> None:
        _, token = integration("generic")
        response = post("generic", {"key": "k", "title": "t", "sevrity": 2}, token)
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "sevrity"]

    def test_endpoints_are_in_the_openapi_schema(self, org: Org) -> None:
        schema = Client().get("/api/v1/openapi.json").json()
        for kind in ("alertmanager", "zabbix", "grafana", "generic"):
            operation = schema["paths"][f"/api/v1/intake/{kind}"]["post"]
            assert operation["requestBody"]["content"]["application/json"]["schema"]
        # The foundation's outgoing webhooks are still there.
        assert "/api/v1/webhooks" in schema["paths"]


class TestManagement:
    def test_admin_creates_an_integration_and_gets_its_token(self, org: Org, api: Api) -> None:
        response = api(org.admin).post("/intake/integrations", {
            "kind": "alertmanager", "name": "Prometheus", "dedup_labels": ["alertname"],
            "on_resolved": "event",
        })  # fmt: skip
        assert response.status_code == 201, response.content
        body = response.json()
        assert (
            body["token"].startswith("sdi_") and body["endpoint"] == "/api/v1/intake/alertmanager"
        )
        assert body["reporter"]["name"] == "Prometheus (integration)"
        assert post("alertmanager", am_firing(), body["token"]).status_code == 200
        assert "token" not in api(org.admin).get("/intake/integrations").json()[0]
        stored = Integration.objects.get(name="Prometheus")
        assert body["token"] not in (stored.token_digest, stored.token_prefix)

    def test_rotating_the_token_stops_the_old_one(self, org: Org, api: Api) -> None:
        am, old = integration()
        response = api(org.admin).post(f"/intake/integrations/{am.pk}/token")
        new = response.json()["token"]
        assert post("alertmanager", am_firing(), old).status_code == 401
        assert post("alertmanager", am_firing(), new).status_code == 200

    def test_only_administrators_manage_integrations(self, org: Org, api: Api) -> None:
        agent = api(org.desk_agent)
        assert agent.get("/intake/integrations").status_code == 403
        assert (
            agent.post("/intake/integrations", {"kind": "zabbix", "name": "z"}).status_code == 403
        )
        assert agent.get("/intake/requests").status_code == 403

    def test_duplicate_name_is_422(self, org: Org, api: Api) -> None:
        integration(name="Zabbix")
        response = api(org.admin).post("/intake/integrations", {"kind": "zabbix", "name": "Zabbix"})
        assert response.status_code == 422

    def test_request_log_is_paginated_and_filtered(self, org: Org, api: Api) -> None:
        am, token = integration()
        for _ in range(3):
            post("alertmanager", am_firing(), token)
        post("alertmanager", am_firing(), "sdi_bad")
        admin = api(org.admin)
        page = admin.get("/intake/requests", limit=2).json()
        assert [r["result"] for r in page["items"]] == ["unauthorised", "accepted"]
        rest = admin.get("/intake/requests", limit=2, cursor=page["next"]).json()
        assert len(rest["items"]) == 2 and rest["next"] is None
        accepted = admin.get("/intake/requests", integration=am.pk, result="accepted").json()
        assert len(accepted["items"]) == 3
        assert accepted["items"][-1]["outcomes"][0]["action"] == "opened"

    def test_alert_groups_show_count_and_last_seen(self, org: Org, api: Api) -> None:
        _, token = integration()
        incident_id = post("alertmanager", am_firing(), token).json()["outcomes"][0]["incident"][
            "id"
        ]
        post("alertmanager", am_firing(), token)
        groups = api(org.desk_agent).get("/intake/alert-groups", incident=incident_id).json()
        (group,) = groups["items"]
        assert group["count"] == 2 and group["open"] is True and group["alert_status"] == "firing"
        assert group["labels"]["service"] == "db"
        assert api(org.reporter).get("/intake/alert-groups").status_code == 403


class TestAttachments:
    def test_listed_and_downloaded_by_who_may_see_the_incident(
        self, org: Org, api: Api, settings: Any, tmp_path: Any
    ) -> None:
        from servicedesk.integrations.mail_services import ingest_email

        from .mailhelpers import message

        settings.DATA_DIR = tmp_path
        mailbox, _ = integration("email", name="helpdesk")
        ingest_email(integration=mailbox, raw=message(
            sender=org.reporter.email, attachments=[("<script>.html", "text/html", b"<b>x</b>")]))  # fmt: skip
        incident = Incident.objects.get()
        (item,) = api(org.reporter).get("/intake/attachments", incident=incident.pk).json()
        assert item["filename"] == "<script>.html" and item["size"] == 8
        response = api(org.reporter).get(f"/intake/attachments/{item['id']}/content")
        assert response.status_code == 200 and b"".join(response.streaming_content) == b"<b>x</b>"
        assert response["Content-Type"] == "application/octet-stream"
        assert response["Content-Disposition"].startswith("attachment;")
        # Another end user sees neither the list nor the file.
        other = api(org.reporter2)
        assert other.get("/intake/attachments", incident=incident.pk).status_code == 404
        assert other.get(f"/intake/attachments/{item['id']}/content").status_code == 404
