"""The agent workspace: queues, filters shared with the API, SLA countdown, bulk actions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from servicedesk.incidents import services
from servicedesk.incidents.models import Incident, IncidentEvent, Status
from servicedesk.incidents.schemas import IncidentFilterIn
from servicedesk.testing.org import Org
from servicedesk.web.views.workspace import LIST_FILTERS, parse_filters

pytestmark = pytest.mark.django_db


def numbers(response: Any) -> list[str]:
    return [i.number for i in response.context["incidents"]]


class TestQueues:
    def test_end_users_are_sent_to_the_portal(
        self, org: Org, browser: Callable[..., Client]
    ) -> None:
        response = browser(org.reporter).get("/")
        assert response.status_code == 302 and response["Location"] == "/portal/"

    def test_a_manager_in_no_group_sees_the_queues(
        self, org: Org, browser: Callable[..., Client], incident_for: Callable[..., Incident]
    ) -> None:
        assert not org.cio.support_groups.exists()  # "my groups" is an empty queue for them
        incident_for(title="Anything")
        response = browser(org.cio).get("/")
        assert response.status_code == 200
        counts = {q.key: n for q, _, n in response.context["queues"]}
        assert counts["groups"] == 0 and counts["mine"] == 0

    def test_anonymous_visitors_sign_in_first(self, client: Client) -> None:
        response = client.get("/")
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")

    def test_queues_slice_the_open_incidents(self, org: Org, browser: Callable[..., Client],
                                             incident_for: Callable[..., Incident]) -> None:  # fmt: skip
        mine = incident_for(title="Mine")
        services.do_accept(incident=mine, actor=org.desk_agent)
        unassigned = incident_for(title="Nobody's")
        escalated = incident_for(title="Up", configuration_item=org.router)
        services.do_escalate(
            incident=escalated, actor=org.desk_agent, reason="insufficient_knowledge"
        )
        closed = incident_for(title="Done")
        services.do_resolve(incident=closed, actor=org.desk_agent, resolution_code="other",
                            resolution="ok")  # fmt: skip
        page = browser(org.desk_agent)

        assert numbers(page.get("/?queue=mine")) == [mine.number]
        assert numbers(page.get("/?queue=groups")) == [unassigned.number, mine.number]
        assert numbers(page.get("/?queue=unassigned")) == [escalated.number, unassigned.number]
        assert numbers(page.get("/?queue=level2")) == [escalated.number]
        assert numbers(page.get("/?queue=all")) == [
            escalated.number,
            unassigned.number,
            mine.number,
        ]
        counts = {q.key: n for q, _, n in page.get("/").context["queues"]}
        assert counts == {"mine": 1, "groups": 2, "unassigned": 2, "level1": 2, "level2": 1,
                          "level3": 0, "all": 3}  # fmt: skip

    def test_rows_show_severity_status_owner_and_group(self, org: Org, browser: Callable[..., Client],
                                                       incident_for: Callable[..., Incident]) -> None:  # fmt: skip
        incident = incident_for(title="Mail is down for sales", affected_users=12)
        services.do_accept(incident=incident, actor=org.desk_agent)
        html = browser(org.desk_agent).get("/?queue=all").content.decode()
        assert 'class="badge sev sev-2"' in html
        assert "in progress" in html
        assert str(org.desk_agent) in html and "Service Desk" in html


class TestFilters:
    def test_the_page_understands_every_filter_of_the_api(self) -> None:
        fields = set(IncidentFilterIn.model_fields) - {"cursor", "limit"}
        lists = {
            name for name in fields if "list" in str(IncidentFilterIn.model_fields[name].annotation)
        }
        assert lists == set(LIST_FILTERS)

    def test_same_results_as_the_api(self, org: Org, browser: Callable[..., Client], api: Any,
                                     incident_for: Callable[..., Incident]) -> None:  # fmt: skip
        incident_for(title="Printer jams", affected_users=1)
        hit = incident_for(title="Printer on fire", affected_users=20)
        incident_for(title="Mail slow", affected_users=20)
        query = {"text": "printer", "severity": ["2"]}
        page = browser(org.desk_agent).get("/", {"queue": "all", **query})
        from_api = api(org.desk_agent).get("/incidents", **query).json()["items"]
        assert numbers(page) == [i["number"] for i in from_api] == [hit.number]

    def test_invalid_filters_are_named_and_ignored(self, org: Org, browser: Callable[..., Client],
                                                   incident_for: Callable[..., Incident]) -> None:  # fmt: skip
        incident_for()
        response = browser(org.desk_agent).get("/?queue=all&severity=banana&cursor=zzz")
        assert response.status_code == 200
        assert response.context["invalid_filters"] == ["severity", "cursor"]
        assert len(response.context["incidents"]) == 1

    def test_parse_keeps_lists(self) -> None:
        from django.http import QueryDict

        parsed, invalid = parse_filters(QueryDict("severity=1&severity=2&text=x&group="))
        assert parsed.severity == [1, 2] and parsed.text == "x" and parsed.group is None
        assert invalid == []

    def test_htmx_filter_request_gets_the_queue_only(self, org: Org, browser: Callable[..., Client],
                                                     incident_for: Callable[..., Incident]) -> None:  # fmt: skip
        incident_for()
        response = browser(org.desk_agent).get(
            "/?queue=all&text=mail", headers={"HX-Request": "true", "HX-Target": "queue"}
        )
        html = response.content.decode()
        assert html.lstrip().startswith('<section id="queue"') and "<html" not in html


class TestSla:
    def test_countdown_states(self, org: Org, browser: Callable[..., Client],
                              incident_for: Callable[..., Incident]) -> None:  # fmt: skip
        now = timezone.now()
        ok, warn, breach, none = (incident_for(title=t) for t in ("ok", "warn", "breach", "none"))
        # An incident without deadlines (no policy applied) shows no countdown.
        Incident.objects.filter(pk=none.pk).update(respond_by=None, resolve_by=None)
        for incident, minutes in ((ok, 120), (warn, 10), (breach, -5)):
            # The escalation engine keeps these; here they are the test's input.
            Incident.objects.filter(pk=incident.pk).update(
                opened_at=now - timedelta(minutes=60), respond_by=now + timedelta(minutes=minutes)
            )
        html = browser(org.desk_agent).get("/?queue=all").content.decode()
        assert html.count("sla sla-ok") == 1
        assert html.count("sla sla-warn") == 1
        assert html.count("sla sla-breach") == 1
        assert "overdue 5 min" in html
        assert "2 h 00 min" in html or "1 h 59 min" in html
        assert 'data-sla-start="' in html

    def test_after_the_response_the_resolution_deadline_counts(
        self, org: Org, incident_for: Callable[..., Incident]
    ) -> None:
        from servicedesk.web.sla import countdown

        incident = incident_for()
        now = timezone.now()
        incident.respond_by, incident.resolve_by = (
            now + timedelta(minutes=5),
            now + timedelta(hours=3),
        )
        assert countdown(incident, now).kind == "respond"  # type: ignore[union-attr]
        incident.responded_at = now
        assert countdown(incident, now).kind == "resolve"  # type: ignore[union-attr]
        incident.status = Status.RESOLVED
        assert countdown(incident, now) is None

    def test_nothing_is_shown_without_deadlines(self, org: Org, browser: Callable[..., Client],
                                                incident_for: Callable[..., Incident]) -> None:  # fmt: skip
        incident = incident_for()
        Incident.objects.filter(pk=incident.pk).update(respond_by=None, resolve_by=None)
        assert "sla-" not in browser(org.desk_agent).get("/?queue=all").content.decode()

    def test_the_escalation_engine_deadlines_are_shown(self, org: Org, browser: Callable[..., Client],
                                                       incident_for: Callable[..., Incident]) -> None:  # fmt: skip
        incident = incident_for()
        assert incident.respond_by is not None  # Table 4's policy applied on registration
        assert "sla sla-ok" in browser(org.desk_agent).get("/?queue=all").content.decode()


class TestBulk:
    def test_assign_and_escalate_selected(self, org: Org, browser: Callable[..., Client],
                                          incident_for: Callable[..., Incident]) -> None:  # fmt: skip
        a, b = incident_for(title="a", configuration_item=org.router), incident_for(title="b")
        page = browser(org.desk_agent)
        response = page.post("/bulk/", {"ids": [a.pk, b.pk], "action": "assign",
                                        "group": org.net_ops.pk, "next": "/?queue=all"})  # fmt: skip
        assert response.status_code == 302 and response["Location"] == "/?queue=all"
        assert set(Incident.objects.values_list("assigned_group", flat=True)) == {org.net_ops.pk}

        c = incident_for(title="c", configuration_item=org.router)
        d = incident_for(title="d")  # no technology: no 2nd-line group for it
        response = page.post("/bulk/", {"ids": [c.pk, d.pk], "action": "escalate",
                                        "reason": "time_expired"}, follow=True)  # fmt: skip
        c.refresh_from_db()
        assert c.support_level == 2 and c.assigned_group == org.net_ops
        texts = [str(m) for m in response.context["messages"]]
        assert "1 incident escalated." in texts
        assert any(t.startswith(d.number + ": No active support group at level 2") for t in texts)
        assert IncidentEvent.objects.filter(incident=c, type="escalated").count() == 1

    def test_assign_needs_a_group_and_a_selection(self, org: Org, browser: Callable[..., Client],
                                                   incident_for: Callable[..., Incident]) -> None:  # fmt: skip
        a = incident_for()
        page = browser(org.desk_agent)
        response = page.post("/bulk/", {"ids": [a.pk], "action": "assign"}, follow=True)
        assert "Choose the group" in response.content.decode()
        response = page.post("/bulk/", {"action": "assign", "group": org.net_ops.pk}, follow=True)
        assert "Select incidents first." in response.content.decode()

    def test_foreign_next_is_ignored(self, org: Org, browser: Callable[..., Client],
                                     incident_for: Callable[..., Incident]) -> None:  # fmt: skip
        a = incident_for()
        response = browser(org.desk_agent).post(
            "/bulk/", {"ids": [a.pk], "action": "assign", "group": org.net_ops.pk,
                       "next": "https://evil.example/"})  # fmt: skip
        assert response["Location"] == "/"


def test_workspace_query_count_is_pinned(org: Org, browser: Callable[..., Client],
                                         incident_for: Callable[..., Incident],
                                         django_assert_max_num_queries: Any) -> None:  # fmt: skip
    for n in range(30):
        incident = incident_for(title=f"incident {n}", configuration_item=org.router)
        if n % 2:
            services.do_accept(incident=incident, actor=org.desk_agent)
    page = browser(org.desk_agent)
    page.get("/")  # warm the session
    # session, user, the user's groups, all groups, the page's ids, its rows, the
    # counts, technologies, severity bands
    with django_assert_max_num_queries(9):
        response = page.get("/?queue=all&severity=3")
    assert len(response.context["incidents"]) == 30


def test_top_bar_search_opens_an_incident_by_number(org: Org, browser: Callable[..., Client],
                                                    incident_for: Callable[..., Incident]) -> None:  # fmt: skip
    incident = incident_for()
    page = browser(org.desk_agent)
    response = page.get("/", {"queue": "all", "go": "1", "text": incident.number.lower()})
    assert response["Location"] == f"/incidents/{incident.pk}/"
    response = page.get("/", {"queue": "all", "go": "1", "text": "INC-999999"})
    assert response.status_code == 200 and list(response.context["incidents"]) == []
    response = page.get("/", {"queue": "all", "go": "1", "text": "e-mail"})
    assert numbers(response) == [incident.number]
