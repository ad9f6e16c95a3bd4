"""The on-call API: schedules, who is on call, overrides, iCal export/import, pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import icalendar
import pytest
from django.test import Client

from servicedesk.escalation.tests.helpers import T0, at, create, minutes, run_worker
from servicedesk.oncall import services
from servicedesk.oncall.models import OnCallOverride, Page
from servicedesk.testing.api import ApiClient
from servicedesk.testing.org import Org

pytestmark = pytest.mark.django_db
Api = Callable[[Any], ApiClient]


def schedule_body(org: Org, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "group": org.net_ops.pk,
        "time_zone": "Europe/Moscow",
        "layers": [
            {"name": "primary", "rotation": "weekly", "starts_on": "2025-03-03",
             "handoff_time": "09:00", "members": [org.net_ops_agent.pk, org.problem_manager.pk]},
            {"name": "nights", "rotation": "daily", "starts_on": "2025-03-03",
             "handoff_time": "20:00", "members": [org.problem_manager.pk],
             "restriction": {"mon": [["20:00", "24:00"]], "tue": [["00:00", "08:00"]]}},
        ],
    }  # fmt: skip
    data.update(changes)
    return data


def make(org: Org, api: Api) -> int:
    response = api(org.net_ops_manager).post("/oncall/schedules", schedule_body(org))
    assert response.status_code == 201, response.json()
    return int(response.json()["id"])


class TestSchedules:
    def test_create_read_update(self, org: Org, api: Api) -> None:
        assert (
            api(org.net_ops_agent).post("/oncall/schedules", schedule_body(org)).status_code == 403
        )
        assert api(org.reporter).get("/oncall/schedules").status_code == 403
        pk = make(org, api)
        manager = api(org.net_ops_manager)
        data = manager.get(f"/oncall/schedules/{pk}").json()
        assert (
            data["group"]["id"] == org.net_ops.pk and data["name"] == "Network Operations on call"
        )
        assert [m["id"] for m in data["layers"][0]["members"]] == [
            org.net_ops_agent.pk,
            org.problem_manager.pk,
        ]
        assert data["layers"][1]["restriction"]["mon"] == [["20:00", "24:00"]]
        assert manager.post("/oncall/schedules", schedule_body(org)).status_code == 409
        etag = manager.get(f"/oncall/schedules/{pk}")["ETag"]
        update = {k: v for k, v in schedule_body(org).items() if k != "group"}
        update["layers"] = update["layers"][:1]
        changed = manager.put(f"/oncall/schedules/{pk}", update, headers={"If-Match": etag})
        assert changed.status_code == 200 and len(changed.json()["layers"]) == 1
        assert (
            manager.put(f"/oncall/schedules/{pk}", update, headers={"If-Match": etag}).status_code
            == 412
        )
        # Replacing the layers keeps the overrides of the layers that stay.
        layer_id = changed.json()["layers"][0]["id"]
        swap = manager.post(f"/oncall/schedules/{pk}/overrides", {
            "person": org.net_ops_agent.pk, "layer": layer_id,
            "starts_at": "2025-03-11T06:00:00Z", "ends_at": "2025-03-12T06:00:00Z",
        })  # fmt: skip
        assert swap.status_code == 201, swap.json()
        again = manager.put(f"/oncall/schedules/{pk}", update)
        assert again.json()["layers"][0]["id"] == layer_id
        assert OnCallOverride.objects.filter(layer_id=layer_id).count() == 1
        listed = api(org.desk_agent).get("/oncall/schedules").json()
        assert [s["id"] for s in listed["items"]] == [pk]

    def test_invalid_schedules(self, org: Org, api: Api) -> None:
        manager = api(org.net_ops_manager)
        bad_zone = manager.post("/oncall/schedules", schedule_body(org, time_zone="Moon/Base"))
        assert bad_zone.status_code == 422
        layers = schedule_body(org)["layers"]
        layers[0]["members"] = [org.reporter.pk]
        assert (
            manager.post("/oncall/schedules", schedule_body(org, layers=layers)).status_code == 422
        )
        layers[0]["members"] = [999999]
        response = manager.post("/oncall/schedules", schedule_body(org, layers=layers))
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "layers", "0", "members"]
        pk = make(org, api)
        renamed = manager.put(f"/oncall/schedules/{pk}", schedule_body(org, name="n" * 101))
        assert renamed.status_code == 422
        assert renamed.json()["detail"][0]["loc"][-1] == "name"

    def test_who_is_on_call(self, org: Org, api: Api) -> None:
        pk = make(org, api)
        client = api(org.desk_agent)
        # Monday 10 March, 21:00 Moscow: the second week's primary and the night layer.
        who = client.get(f"/oncall/schedules/{pk}/who", at="2025-03-10T18:00:00Z").json()
        assert who["on_call"]["id"] == org.problem_manager.pk
        assert [(r["person"]["id"], r["source"]) for r in who["responders"]] == [
            (org.problem_manager.pk, "rotation"), (org.net_ops_manager.pk, "manager"),
        ]  # fmt: skip
        assert who["responders"][0]["until"] == "2025-03-17T06:00:00Z"
        earlier = client.get(f"/oncall/schedules/{pk}/who", at="2025-03-05T18:00:00Z").json()
        assert [r["person"]["id"] for r in earlier["responders"]] == [
            org.net_ops_agent.pk, org.net_ops_manager.pk,
        ]  # fmt: skip
        monday_night = client.get(f"/oncall/schedules/{pk}/who", at="2025-03-03T18:00:00Z").json()
        assert [r["person"]["id"] for r in monday_night["responders"]] == [
            org.net_ops_agent.pk, org.problem_manager.pk, org.net_ops_manager.pk,
        ]  # fmt: skip
        assert client.get(f"/oncall/schedules/{pk}/who", at="not a date").status_code == 422
        # Any offset is a moment (PostgreSQL itself refuses offsets past 15:59).
        odd = client.get(f"/oncall/schedules/{pk}/who", at="2025-03-11T17:01:00+23:01")
        assert odd.status_code == 200 and odd.json()["at"] == "2025-03-10T18:00:00Z"
        assert odd.json()["on_call"]["id"] == org.problem_manager.pk

    def test_overrides(self, org: Org, api: Api) -> None:
        pk = make(org, api)
        manager = api(org.net_ops_manager)
        created = manager.post(f"/oncall/schedules/{pk}/overrides", {
            "person": org.net_ops_agent.pk, "starts_at": "2025-03-11T06:00:00Z",
            "ends_at": "2025-03-12T06:00:00Z", "reason": "swap",
        })  # fmt: skip
        assert created.status_code == 201, created.json()
        who = manager.get(f"/oncall/schedules/{pk}/who", at="2025-03-11T12:00:00Z").json()
        assert (who["on_call"]["id"], who["responders"][0]["source"]) == (
            org.net_ops_agent.pk,
            "override",
        )
        backwards = manager.post(f"/oncall/schedules/{pk}/overrides", {
            "person": org.net_ops_agent.pk, "starts_at": "2025-03-12T06:00:00Z",
            "ends_at": "2025-03-11T06:00:00Z",
        })  # fmt: skip
        assert backwards.status_code == 422
        with at(T0):
            assert len(manager.get(f"/oncall/schedules/{pk}/overrides").json()) == 1
        oid = created.json()["id"]
        assert manager.delete(f"/oncall/schedules/{pk}/overrides/{oid}").status_code == 204
        assert not OnCallOverride.objects.exists()


class TestCalendarSubscription:
    """A calendar application subscribes with a URL whose key reads one feed."""

    def test_subscribe_rotate_and_withdraw(self, org: Org, api: Api) -> None:
        pk = make(org, api)
        manager = api(org.net_ops_manager)
        assert api(org.net_ops_agent).post(f"/oncall/schedules/{pk}/feed").status_code == 403
        assert api(org.mail_ops_manager).post(f"/oncall/schedules/{pk}/feed").status_code == 403
        assert manager.post("/oncall/schedules/999999/feed").status_code == 404
        created = manager.post(f"/oncall/schedules/{pk}/feed")
        assert created.status_code == 201, created.json()
        url = created.json()["url"]
        assert url.startswith(f"http://testserver/oncall/schedules/{pk}/feed.ics?key=")
        anonymous = Client()
        with at(T0):
            response = anonymous.get(url)
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/calendar")
        assert response["Cache-Control"] == "private, max-age=300"
        feed = icalendar.Calendar.from_ical(response.content)
        people = {str(e["x-servicedesk-user"]) for e in feed.walk("VEVENT")}
        assert people == {"net_ops_agent", "problem_manager"}
        # The key opens this feed only: not the API, not a wrong key, not another schedule.
        key = url.split("key=", 1)[1]
        assert anonymous.get(f"/oncall/schedules/{pk}/feed.ics?key={key}x").status_code == 404
        assert anonymous.get(f"/oncall/schedules/{pk}/feed.ics").status_code == 404
        assert services.schedule_for_feed(pk, "\ud800") is None  # any text: no match, no error
        assert anonymous.get(f"/oncall/schedules/{pk + 1}/feed.ics?key={key}").status_code == 404
        assert Client().get(f"/api/v1/oncall/schedules/{pk}",
                            HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 401  # fmt: skip
        # A new key retires the old URL; withdrawing retires every URL.
        again = manager.post(f"/oncall/schedules/{pk}/feed").json()["url"]
        assert anonymous.get(url).status_code == 404 and anonymous.get(again).status_code == 200
        assert api(org.admin).delete(f"/oncall/schedules/{pk}/feed").status_code == 204
        assert anonymous.get(again).status_code == 404


class TestIcal:
    def test_export_is_a_valid_feed_of_the_primary_shifts(self, org: Org, api: Api) -> None:
        pk = make(org, api)
        response = api(org.desk_agent).get(
            f"/oncall/schedules/{pk}/ical", start="2025-03-03T06:00:00Z", days=14
        )
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/calendar")
        feed = icalendar.Calendar.from_ical(response.content)
        vevents: list[Any] = feed.walk("VEVENT")
        shifts = [(str(e["x-servicedesk-user"]), e["dtstart"].dt, e["dtend"].dt) for e in vevents]
        assert [s[0] for s in shifts] == ["net_ops_agent", "problem_manager"]
        assert shifts[0][2].isoformat() == "2025-03-10T06:00:00+00:00"
        json_shifts = (
            api(org.desk_agent)
            .get(f"/oncall/schedules/{pk}/shifts", start="2025-03-03T06:00:00Z", days=14)
            .json()
        )
        assert [s["person"]["id"] for s in json_shifts] == [
            org.net_ops_agent.pk,
            org.problem_manager.pk,
        ]

    def test_import_makes_overrides_and_replaces_the_previous_import(
        self, org: Org, api: Api
    ) -> None:
        pk = make(org, api)
        feed = f"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Example//EN
BEGIN:VEVENT
UID:one@example
DTSTART:20250311T060000Z
DTEND:20250312T060000Z
SUMMARY:On call
ATTENDEE;CN=Agent:mailto:{org.net_ops_agent.email.upper()}
END:VEVENT
BEGIN:VEVENT
UID:weekly@example
DTSTART;TZID=Europe/Moscow:20250315T090000
DTEND;TZID=Europe/Moscow:20250316T090000
RRULE:FREQ=WEEKLY;COUNT=3
SUMMARY:On call: net_ops_manager
END:VEVENT
BEGIN:VEVENT
UID:stranger@example
DTSTART:20250320T060000Z
DTEND:20250321T060000Z
SUMMARY:On call: somebody else
END:VEVENT
END:VCALENDAR
""".replace("\n", "\r\n").encode()
        manager = api(org.net_ops_manager)
        with at(T0):
            response = manager.client.post(
                f"/api/v1/oncall/schedules/{pk}/ical", data=feed, content_type="text/calendar",
                headers=manager.headers,
            )  # fmt: skip
        assert response.status_code == 200, response.json()
        result = response.json()
        assert (result["imported"], result["removed"]) == (4, 0)
        assert [s["uid"] for s in result["skipped"]] == ["stranger@example"]
        who = manager.get(f"/oncall/schedules/{pk}/who", at="2025-03-22T12:00:00Z").json()
        assert who["on_call"]["id"] == org.net_ops_manager.pk
        assert who["responders"][0]["source"] == "override"
        with at(T0):
            again = manager.client.post(
                f"/api/v1/oncall/schedules/{pk}/ical", data=feed, content_type="text/calendar",
                headers=manager.headers,
            ).json()  # fmt: skip
        assert (again["imported"], again["removed"]) == (4, 4)
        garbage = manager.client.post(
            f"/api/v1/oncall/schedules/{pk}/ical", data=b"hello", content_type="text/calendar",
            headers=manager.headers,
        )  # fmt: skip
        assert garbage.status_code == 422

    def test_export_then_import_round_trips(self, org: Org, api: Api) -> None:
        pk = make(org, api)
        client = api(org.admin)
        exported = client.get(
            f"/oncall/schedules/{pk}/ical", start="2025-03-03T06:00:00Z", days=21
        ).content
        other = client.post(
            "/oncall/schedules", schedule_body(org, group=org.mail_ops.pk, layers=[])
        ).json()
        with at(T0):
            result = client.client.post(
                f"/api/v1/oncall/schedules/{other['id']}/ical", data=exported,
                content_type="text/calendar", headers=client.headers,
            ).json()  # fmt: skip
        assert result["imported"] == 3 and result["skipped"] == []
        for moment in ("2025-03-05T12:00:00Z", "2025-03-12T12:00:00Z", "2025-03-19T12:00:00Z"):
            mine = client.get(f"/oncall/schedules/{pk}/who", at=moment).json()["on_call"]
            theirs = client.get(f"/oncall/schedules/{other['id']}/who", at=moment).json()["on_call"]
            assert mine == theirs


class TestPages:
    def test_page_by_hand_and_acknowledge(self, org: Org, api: Api) -> None:
        make(org, api)
        incident = create(org, affected_users=3)
        with at(T0):
            created = api(org.desk_agent).post(
                "/oncall/pages",
                {"incident": incident.pk, "group": org.net_ops.pk, "ack_within": 60},
            )
        assert created.status_code == 201, created.json()
        page = created.json()
        assert page["person"]["id"] == org.problem_manager.pk and page["state"] == "paging"
        run_worker(T0 + minutes(1))
        assert api(org.desk_agent).get(f"/oncall/pages/{page['id']}").json()["attempt"] == 2
        denied = api(org.mail_engineer).post(f"/oncall/pages/{page['id']}/acknowledge")
        assert denied.status_code == 403
        with at(T0 + minutes(1.5)):
            acked = api(org.net_ops_manager).post(f"/oncall/pages/{page['id']}/acknowledge")
        assert acked.status_code == 200 and acked.json()["state"] == "acknowledged"
        listed = (
            api(org.desk_agent)
            .get("/oncall/pages", incident=incident.pk, state="acknowledged")
            .json()
        )
        assert [p["id"] for p in listed["items"]] == [page["id"]]
        assert Page.objects.get().acknowledged_by == org.net_ops_manager

    def test_no_paging_for_closed_incidents(self, org: Org, api: Api) -> None:
        incident = create(org, affected_users=3)
        api(org.desk_agent).post(f"/incidents/{incident.pk}/cancel", {"reason": "duplicate"})
        response = api(org.desk_agent).post(
            "/oncall/pages", {"incident": incident.pk, "group": org.net_ops.pk}
        )
        assert response.status_code == 409
