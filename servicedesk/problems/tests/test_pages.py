"""The problem pages through Django's client: the portfolio board, the problem
page with its RCA artefacts (SVG), actions through forms with and without
HTMX, permissions, the incident page's panel, and pinned query counts."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client

from servicedesk.incidents import services as incident_services
from servicedesk.incidents.models import Incident, PendingReason
from servicedesk.incidents.models import Status as IncidentStatus
from servicedesk.knownerrors.models import KnownError
from servicedesk.problems import rca, services
from servicedesk.problems.models import FollowUpAction, Problem, ProblemIncident, Status
from servicedesk.testing.org import Org

pytestmark = pytest.mark.django_db

SVG = "{http://www.w3.org/2000/svg}"
HTMX = {"HX-Request": "true", "HX-Target": "problem-main"}


@pytest.fixture
def browser() -> Callable[..., Client]:
    def make(user: Any, language: str = "en") -> Client:
        client = Client(headers={"accept-language": language})
        client.force_login(user)
        return client

    return make


def incident(org: Org, **kw: Any) -> Incident:
    kw.setdefault("title", "Cannot receive e-mail")
    kw.setdefault("reporter", org.reporter)
    return incident_services.do_create_incident(actor=kw.pop("actor", org.desk_agent), **kw)


def problem(org: Org, **kw: Any) -> Problem:
    kw.setdefault("title", "Mail delivery delays")
    kw.setdefault("service", org.mail)
    return services.do_create_problem(actor=kw.pop("actor", org.problem_manager), **kw)


def post(page: Client, p: Problem, action: str, data: dict[str, Any], htmx: bool = False) -> Any:
    body = {f"{action}-{k}": v for k, v in data.items()}
    return page.post(f"/problems/{p.pk}/{action}/", body, headers=HTMX if htmx else {})


def svgs(html: str) -> list[ET.Element]:
    """Every inline SVG of the page, parsed as XML (fails on malformed markup)."""
    # Our own pages, not untrusted input.
    found = re.findall(r"<svg\b.*?</svg>", html, re.S)
    return [ET.fromstring(chunk) for chunk in found]  # noqa: S314


def shown(text: ET.Element) -> str:
    """What a <text> draws (its <title> child is the tooltip, not drawn)."""
    return (text.text or "") + "".join(child.tail or "" for child in text)


def texts(element: ET.Element) -> list[str]:
    return [shown(t) for t in element.iter(f"{SVG}text")]


FISHBONE: list[dict[str, Any]] = [
    {"name": "technology", "causes": [
        {"text": "Queue disk full", "root_cause": True,
         "sub_causes": [{"text": "Log rotation off"}]},
        {"text": "DNS answers slowly"},
    ]},
    {"name": "process", "causes": [{"text": "Nobody watches the queue length"}]},
    {"name": "people", "causes": [{"text": "On-call not trained on <mail> & queues"}]},
]  # fmt: skip


# ---- the board --------------------------------------------------------------------------


class TestBoard:
    def test_ranked_like_the_api_portfolio(self, org: Org, browser: Callable[..., Client],
                                           api: Callable[..., Any]) -> None:  # fmt: skip
        low = problem(org, title="Slow web proxy", service=org.internet, business_impact=1)
        high = problem(org, title="Mail outage", business_impact=5, users_affected=80,
                       incidents=[incident(org, affected_users=40)])  # fmt: skip
        middle = problem(org, title="Printer queue", service=org.internet, business_impact=3)
        closed = problem(org, title="Old one")
        services.do_close(problem=closed, actor=org.problem_manager, reason="duplicate")
        response = browser(org.desk_agent).get("/problems/")
        assert response.status_code == 200
        ranked = [(rank, row["problem"].pk) for rank, row in
                  ((r["rank"], r) for r in response.context["rows"])]  # fmt: skip
        assert ranked == [(1, high.pk), (2, middle.pk), (3, low.pk)]
        portfolio = api(org.desk_agent).get("/api/v1/problems/portfolio").json()["items"]
        assert [item["problem"]["id"] for item in portfolio] == [pk for _, pk in ranked]
        html = response.content.decode()
        assert html.index(high.number) < html.index(middle.number) < html.index(low.number)
        assert closed.number not in html
        assert 'href="/problems/"' in html and 'aria-current="page"' in html  # the nav item

    def test_row_shows_owner_group_incidents_and_progress(self, org: Org,
                                                          browser: Callable[..., Client]) -> None:  # fmt: skip
        start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        with time_machine.travel(start, tick=False):
            p = problem(org, cause_estimate_hours=10, owner=org.mail_ops_agent,
                        incidents=[incident(org), incident(org, title="Mail bounces")])  # fmt: skip
            services.do_start_investigation(problem=p, actor=org.mail_ops_agent)
        with time_machine.travel(start + timedelta(hours=4), tick=False):
            row = browser(org.desk_agent).get("/problems/").context["rows"][0]
            html = browser(org.desk_agent).get("/problems/").content.decode()
        assert (row["percent"], row["overrun"]) == (40, False)
        assert "4 of 10 h (40%)" in html and str(org.mail_ops_agent) in html
        assert "Mail Operations" in html and "under investigation" in html
        assert re.search(r'<td class="count-cell">2</td>', html)
        with time_machine.travel(start + timedelta(hours=13), tick=False):
            html = browser(org.desk_agent).get("/problems/").content.decode()
        assert "13 of 10 h (130%)" in html and "overrun" in html
        bar = next(s for s in svgs(html) if "progress" in s.get("class", ""))
        assert "overrun" in bar.get("class", "")

    def test_filters_keep_the_portfolio_rank(self, org: Org,
                                             browser: Callable[..., Client]) -> None:  # fmt: skip
        mail = problem(org, title="Mail outage", business_impact=5, owner=org.mail_ops_agent)
        net = problem(org, title="Router flaps", service=org.internet, business_impact=2)
        page = browser(org.desk_agent)

        def ranks(query: str) -> list[tuple[int, int]]:
            rows = page.get(f"/problems/?{query}").context["rows"]
            return [(r["rank"], r["problem"].pk) for r in rows]

        assert ranks("") == [(1, mail.pk), (2, net.pk)]
        assert ranks(f"technology={org.network.pk}") == [(2, net.pk)]
        assert ranks(f"group={org.mail_ops.pk}") == [(1, mail.pk)]
        assert ranks(f"owner={org.mail_ops_agent.pk}") == [(1, mail.pk)]
        services.do_start_investigation(problem=net, actor=org.net_ops_agent)
        assert ranks("status=under_investigation") == [(1, net.pk)]
        assert ranks("status=bogus&technology=x") == [(1, mail.pk), (2, net.pk)]  # ignored

    def test_filter_through_htmx_returns_the_board_only(self, org: Org,
                                                        browser: Callable[..., Client]) -> None:  # fmt: skip
        problem(org)
        response = browser(org.desk_agent).get(
            f"/problems/?technology={org.email.pk}", headers={"HX-Request": "true",
                                                             "HX-Target": "board"})  # fmt: skip
        html = response.content.decode()
        assert html.startswith('<section id="board"') and "<html" not in html


# ---- permissions ----------------------------------------------------------------------------


class TestPermissions:
    def test_end_users_are_sent_to_the_portal(self, org: Org,
                                              browser: Callable[..., Client]) -> None:  # fmt: skip
        p = problem(org)
        page = browser(org.reporter)
        for path in ("/problems/", f"/problems/{p.pk}/"):
            response = page.get(path)
            assert response.status_code == 302 and response["Location"] == "/portal/"
        response = post(page, p, "investigate", {"version": p.version})
        assert response.status_code == 302
        p.refresh_from_db()
        assert p.status == Status.NEW
        assert 'href="/problems/"' not in page.get("/portal/").content.decode()

    def test_signed_out_goes_to_the_sign_in_page(self, org: Org, client: Client) -> None:
        p = problem(org)
        response = client.get(f"/problems/{p.pk}/")
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")

    def test_unknown_problem_is_404(self, org: Org, browser: Callable[..., Client]) -> None:
        assert browser(org.desk_agent).get("/problems/999999/").status_code == 404

    def test_actions_follow_role_and_status(self, org: Org,
                                            browser: Callable[..., Client]) -> None:  # fmt: skip
        p = problem(org)
        actions = browser(org.problem_manager).get(f"/problems/{p.pk}/").context["actions"]
        assert {"investigate", "defer", "close", "assign", "link", "ishikawa"} <= actions
        assert "root-cause" not in actions and "resolve" not in actions
        # A 1st-line agent outside the problem's groups may read it and link incidents.
        assert browser(org.desk_agent).get(f"/problems/{p.pk}/").context["actions"] == {"link"}
        # The owner group's agent investigates but does not defer or withdraw.
        ops = browser(org.mail_ops_agent).get(f"/problems/{p.pk}/").context["actions"]
        assert "investigate" in ops and "defer" not in ops and "close" not in ops
        services.do_start_investigation(problem=p, actor=org.mail_ops_agent)
        ops = browser(org.mail_ops_agent).get(f"/problems/{p.pk}/").context["actions"]
        assert {"root-cause", "workaround", "escalate"} <= ops and "investigate" not in ops

    def test_refused_action_shows_why(self, org: Org, browser: Callable[..., Client]) -> None:
        p = problem(org)
        response = post(browser(org.mail_ops_agent), p, "defer",
                        {"version": p.version, "reason": "later"}, htmx=True)  # fmt: skip
        assert response.status_code == 422
        html = response.content.decode()
        assert "Only problem managers and managers may do this." in html
        assert 'data-action="defer" open' in html
        p.refresh_from_db()
        assert p.status == Status.NEW


# ---- the problem page -------------------------------------------------------------------------


class TestProblemPage:
    def test_card_timeline_links_and_known_errors(self, org: Org,
                                                  browser: Callable[..., Client]) -> None:  # fmt: skip
        linked = incident(org, configuration_item=org.mail_server)
        p = problem(org, incidents=[linked], description="Mail waits an hour in the queue.")
        services.do_start_investigation(problem=p, actor=org.mail_ops_agent)
        services.do_record_root_cause(problem=p, actor=org.mail_ops_agent,
                                      root_cause="The queue disk is full.")  # fmt: skip
        known_error = KnownError.objects.get(problem=p)
        html = browser(org.desk_agent).get(f"/problems/{p.pk}/").content.decode()
        assert p.number in html and "Mail waits an hour in the queue." in html
        assert f'href="/incidents/{linked.pk}/"' in html and linked.number in html
        assert known_error.number in html and "The queue disk is full." in html
        assert "Opened with priority 3 for Mail Operations, estimate 40 h" in html
        assert f"Incident {linked.number}" in html and "Investigation started" in html
        assert "Root cause found after 0.0 h of 40 h estimated" in html
        assert "mail-01" in html and "Mail Operations" in html

    def test_ishikawa_is_well_formed_svg(self, org: Org, browser: Callable[..., Client]) -> None:
        p = problem(org, title='Mail "delays" & <bounces>')
        rca.do_set_ishikawa(problem=p, actor=org.problem_manager, categories=FISHBONE)
        html = browser(org.desk_agent).get(f"/problems/{p.pk}/").content.decode()
        (fishbone,) = [s for s in svgs(html) if s.get("class") == "ishikawa"]
        assert fishbone.get("role") == "img"
        assert [b.get("data-category") for b in fishbone.iter(f"{SVG}g")] == [
            "technology", "process", "people"]  # fmt: skip
        drawn = texts(fishbone)
        assert {"Technology", "Process", "People"} <= set(drawn)
        assert "★ Queue disk full" in drawn and "Log rotation off" in drawn
        assert "On-call not trained on <mail> & queues" in drawn
        assert any('Mail "delays"' in t for t in drawn)
        roots = [t for t in fishbone.iter(f"{SVG}text") if "root-cause" in t.get("class", "")]
        assert [shown(t) for t in roots] == ["★ Queue disk full"]
        # The same causes as a list, for screen readers and copying.
        assert "<strong>Technology</strong>" in html and "Nobody watches the queue length" in html

    def test_long_causes_are_shortened_with_the_full_text_in_a_title(self, org: Org,
                                                                      browser: Callable[..., Client]) -> None:  # fmt: skip
        long = "The monitoring of the mail queue length was switched off in " + "x" * 200
        p = problem(org)
        rca.do_set_ishikawa(problem=p, actor=org.problem_manager, categories=[
            {"name": "measurement", "causes": [{"text": long}]}])  # fmt: skip
        html = browser(org.desk_agent).get(f"/problems/{p.pk}/").content.decode()
        (fishbone,) = [s for s in svgs(html) if s.get("class") == "ishikawa"]
        cause = next(t for t in fishbone.iter(f"{SVG}text") if t.get("class") == "cause")
        assert cause.find(f"{SVG}title").text == long  # type: ignore[union-attr]
        assert shown(cause).endswith("…") and len(shown(cause)) < len(long)

    def test_five_whys_and_kepner_tregoe(self, org: Org, browser: Callable[..., Client]) -> None:
        p = problem(org)
        rca.do_set_five_whys(problem=p, actor=org.problem_manager, steps=[
            {"why": "Why is mail late?", "because": "The queue is full"},
            {"why": "Why is the queue full?", "because": "The disk is full"}])  # fmt: skip
        rca.do_set_kepner_tregoe(problem=p, actor=org.problem_manager, rows=[
            {"dimension": "where", "question": "Which servers?", "is": "mail-01",
             "is_not": "mail-02", "distinctions": "older disk", "changes": "none"}])  # fmt: skip
        html = browser(org.desk_agent).get(f"/problems/{p.pk}/").content.decode()
        whys = re.search(r'<ol class="whys">(.*?)</ol>', html, re.S)
        assert whys and whys.group(1).index("Why is mail late?") < whys.group(1).index(
            "The disk is full"
        )
        assert '<td class="is">mail-01</td><td class="is-not">mail-02</td>' in html

    def test_pareto_chart_of_linked_incidents(self, org: Org,
                                              browser: Callable[..., Client]) -> None:  # fmt: skip
        incidents = [incident(org, configuration_item=org.mail_server) for _ in range(5)]
        incidents.append(incident(org, configuration_item=org.router))
        p = problem(org, incidents=incidents)
        page = browser(org.desk_agent)
        html = page.get(f"/problems/{p.pk}/?by=configuration_item").content.decode()
        (chart,) = [s for s in svgs(html) if s.get("class") == "pareto"]
        bars = [r for r in chart.iter(f"{SVG}rect") if "bar" in r.get("class", "")]
        assert [b.get("class") for b in bars] == ["bar vital", "bar"]
        assert float(bars[0].get("height", 0)) == 5 * float(bars[1].get("height", 0))
        assert "mail-01" in texts(chart) and "core-router-01" in texts(chart)
        assert len(list(chart.iter(f"{SVG}circle"))) == 2  # the cumulative line's points
        fragment = page.get(f"/problems/{p.pk}/?by=service",
                            headers={"HX-Request": "true", "HX-Target": "pareto"})  # fmt: skip
        assert fragment.content.decode().startswith('<section id="pareto"')
        assert "Internet access" in fragment.content.decode()
        html = page.get(f"/problems/{p.pk}/?by=symptom").content.decode()
        (chart,) = [s for s in svgs(html) if s.get("class") == "pareto"]
        assert "receive" in texts(chart)  # a word of every linked incident's title
        assert page.get(f"/problems/{p.pk}/?by=nonsense").context["pareto_by"] == "category"

    def test_no_artefacts_yet(self, org: Org, browser: Callable[..., Client]) -> None:
        p = problem(org)
        html = browser(org.desk_agent).get(f"/problems/{p.pk}/").content.decode()
        assert "No causes recorded yet." in html and "No linked incidents to analyse." in html
        assert [s.get("class") for s in svgs(html)] == ["progress"]


# ---- actions through forms ----------------------------------------------------------------------


class TestActions:
    def test_investigate_record_cause_publish_resolve_close(self, org: Org,
                                                             browser: Callable[..., Client]) -> None:  # fmt: skip
        linked = incident(org)
        p = problem(org, incidents=[linked])
        page = browser(org.mail_ops_agent)
        response = post(page, p, "investigate", {"version": p.version, "comment": "on it"},
                        htmx=True)  # fmt: skip
        assert response.status_code == 200
        html = response.content.decode()
        assert html.startswith('<div id="problem-main"') and "Investigation started." in html
        p.refresh_from_db()
        assert p.status == Status.UNDER_INVESTIGATION
        post(page, p, "root-cause", {"version": p.version, "root_cause": "Disk full",
                                     "symptoms": "Mail late", "create_known_error": "on"})  # fmt: skip
        p.refresh_from_db()
        assert p.status == Status.ROOT_CAUSE_KNOWN and p.known_errors.count() == 1
        response = post(page, p, "workaround", {"version": p.version,
                                                "workaround": "Purge the queue", "audience": "support"})  # fmt: skip
        assert response.status_code == 302  # without htmx: back to the page
        assert response["Location"] == f"/problems/{p.pk}/"
        p.refresh_from_db()
        assert p.workaround == "Purge the queue"
        post(page, p, "resolve", {"version": p.version, "resolution": "New disk"})
        p.refresh_from_db()
        post(page, p, "close", {"version": p.version, "reason": ""})
        p.refresh_from_db()
        assert p.status == Status.CLOSED
        html = page.get(f"/problems/{p.pk}/").content.decode()
        assert "Nothing to do here: the problem is closed." in html

    def test_field_error_next_to_the_field(self, org: Org, browser: Callable[..., Client]) -> None:
        p = problem(org)
        response = post(browser(org.problem_manager), p, "close",
                        {"version": p.version, "reason": "  "}, htmx=True)  # fmt: skip
        assert response.status_code == 422
        html = response.content.decode()
        assert re.search(r'id="id_close-reason_errors">Say why an unresolved problem is closed\.',
                         html)  # fmt: skip
        assert 'aria-invalid="true"' in html
        p.refresh_from_db()
        assert p.status == Status.NEW

    def test_illegal_transition_is_explained(self, org: Org,
                                             browser: Callable[..., Client]) -> None:  # fmt: skip
        p = problem(org)
        response = post(browser(org.mail_ops_agent), p, "resolve",
                        {"version": p.version, "resolution": "done"}, htmx=True)  # fmt: skip
        assert response.status_code == 422
        assert "Not possible while the problem is new (next: under investigation, closed, " \
               "deferred)." in response.content.decode()  # fmt: skip

    def test_stale_version_changes_nothing(self, org: Org, browser: Callable[..., Client]) -> None:
        p = problem(org)
        seen = p.version
        services.do_update_problem(problem=p, actor=org.problem_manager, changes={"priority": 2})
        response = post(browser(org.mail_ops_agent), p, "investigate", {"version": seen},
                        htmx=True)  # fmt: skip
        assert response.status_code == 422
        assert "Someone else changed the problem meanwhile." in response.content.decode()
        p.refresh_from_db()
        assert p.status == Status.NEW

    def test_edit_the_estimate_and_rescore(self, org: Org, browser: Callable[..., Client]) -> None:
        p = problem(org)
        data = {"version": p.version, "title": p.title, "description": "", "priority": "2",
                "users_affected": "50", "business_impact": "4", "cost_estimate": "1000",
                "cause_estimate_hours": "16"}  # fmt: skip
        response = post(browser(org.mail_ops_agent), p, "edit", data, htmx=True)
        assert response.status_code == 200
        p.refresh_from_db()
        assert (p.priority, p.cause_estimate_hours, p.business_impact) == (2, 16, 4)
        assert p.score > 0

    def test_assign_escalate_and_hand_back(self, org: Org, browser: Callable[..., Client]) -> None:
        p = problem(org)
        page = browser(org.mail_ops_agent)
        post(page, p, "assign", {"version": p.version, "group": org.mail_ops.pk,
                                 "assignee": org.mail_ops_agent.pk})  # fmt: skip
        p.refresh_from_db()
        assert p.assignee == org.mail_ops_agent
        post(page, p, "escalate", {"version": p.version, "reason": "needs the developers"})
        p.refresh_from_db()
        assert (p.support_level, p.assigned_group) == (3, org.mail_eng)
        html = browser(org.mail_engineer).get(f"/problems/{p.pk}/").content.decode()
        assert "Escalated to the 3rd line (Mail Engineering) — needs the developers" in html
        post(browser(org.mail_engineer), p, "de-escalate", {"version": p.version, "reason": ""})
        p.refresh_from_db()
        assert p.support_level == 2
        options = page.get(f"/problems/{p.pk}/members/?assign-group={org.mail_eng.pk}")
        assert str(org.mail_engineer) in options.content.decode()

    def test_link_and_unlink_an_incident(self, org: Org, browser: Callable[..., Client]) -> None:
        p = problem(org)
        other = incident(org, title="Mail slow")
        page = browser(org.desk_agent)
        response = post(page, p, "link", {"incident": other.number.lower(), "set_pending": "on",
                                          "comment": ""}, htmx=True)  # fmt: skip
        assert response.status_code == 200 and "Incident linked." in response.content.decode()
        other.refresh_from_db()
        assert other.problem_link.problem == p
        assert (other.status, other.pending_reason) == (
            IncidentStatus.PENDING, PendingReason.AWAITING_PROBLEM)  # fmt: skip
        response = post(page, p, "link", {"incident": "INC-999999"}, htmx=True)
        assert response.status_code == 422
        assert re.search(r'id="id_link-incident_errors">There is no such incident\.',
                         response.content.decode())  # fmt: skip
        response = post(page, p, "link", {"incident": "printer"}, htmx=True)
        assert "Give an incident number such as INC-000042." in response.content.decode()
        page.post(f"/problems/{p.pk}/incidents/{other.pk}/unlink/", headers=HTMX)
        assert not ProblemIncident.objects.filter(problem=p).exists()

    def test_rca_edited_as_text(self, org: Org, browser: Callable[..., Client]) -> None:
        p = problem(org)
        page = browser(org.mail_ops_agent)
        text = ("Technology:\n* Queue disk full\n  - Log rotation off\n- DNS slow\n"
                "Process:\n- Nobody watches the queue\n")  # fmt: skip
        response = post(page, p, "ishikawa", {"text": text}, htmx=True)
        assert response.status_code == 200
        assert rca.ishikawa(p) == [
            {"name": "technology", "causes": [
                {"text": "Queue disk full", "root_cause": True,
                 "sub_causes": [{"text": "Log rotation off", "root_cause": False,
                                 "sub_causes": []}]},
                {"text": "DNS slow", "root_cause": False, "sub_causes": []}]},
            {"name": "process", "causes": [
                {"text": "Nobody watches the queue", "root_cause": False, "sub_causes": []}]},
        ]  # fmt: skip
        assert any(s.get("class") == "ishikawa" for s in svgs(response.content.decode()))
        # The form comes back filled with the same text.
        again = page.get(f"/problems/{p.pk}/").context["forms"]["ishikawa"]
        assert again.initial["text"] == (  # category names are kept in lower case
            "technology:\n* Queue disk full\n  - Log rotation off\n- DNS slow\n"
            "process:\n- Nobody watches the queue"
        )
        response = post(page, p, "ishikawa", {"text": "- a cause without a category"}, htmx=True)
        assert response.status_code == 422
        assert "Line 1: start with a category" in response.content.decode()
        post(page, p, "five-whys", {"text": "Why late? -> queue full\nWhy full? -> disk full"})
        assert [s["because"] for s in rca.five_whys(p)] == ["queue full", "disk full"]
        response = post(page, p, "five-whys", {"text": "no arrow here"}, htmx=True)
        assert "Line 1: write “why -&gt; because”." in response.content.decode()
        post(page, p, "kepner-tregoe", {"text": "what | Which mail? | outgoing | incoming | | "})
        assert rca.kepner_tregoe(p)[0]["is_not"] == "incoming"

    def test_review_and_follow_up_done(self, org: Org, browser: Callable[..., Client]) -> None:
        p = problem(org, major=True)
        page = browser(org.mail_ops_agent)
        response = post(page, p, "review", {"lessons": "Watch the queue",
                                            "action_title": "Add a queue alert",
                                            "action_owner": org.mail_ops_agent.pk}, htmx=True)  # fmt: skip
        assert response.status_code == 200
        follow_up = FollowUpAction.objects.get()
        response = post(page, p, "review", {"action_title": "x"}, htmx=True)
        assert response.status_code == 422
        assert "Choose who owns the follow-up action." in response.content.decode()
        response = page.post(f"/problems/{p.pk}/follow-ups/{follow_up.pk}/done/", headers=HTMX)
        assert "Follow-up action done." in response.content.decode()
        follow_up.refresh_from_db()
        assert follow_up.done_at is not None
        assert "Follow-up action done: Add a queue alert" in response.content.decode()


# ---- the incident page -----------------------------------------------------------------------


def test_incident_page_shows_its_problem(org: Org, browser: Callable[..., Client]) -> None:
    linked = incident(org)
    p = problem(org)
    services.do_link_incident(problem=p, incident=linked, actor=org.desk_agent, set_pending=True)
    services.do_start_investigation(problem=p, actor=org.mail_ops_agent)
    services.do_publish_workaround(problem=p, actor=org.mail_ops_agent, workaround="Use webmail")
    page = browser(org.desk_agent)
    html = page.get(f"/incidents/{linked.pk}/").content.decode()
    # The panel loads after the page (no query against the page's pinned budget).
    assert f'hx-get="/problems/incidents/{linked.pk}/" hx-trigger="load"' in html
    assert f"Linked to problem {p}" in html and "waiting for it" in html
    assert f"Workaround available from problem {p}: Use webmail" in html
    panel = page.get(f"/problems/incidents/{linked.pk}/").content.decode()
    assert panel.startswith('<section class="card" aria-labelledby="linked-problem-title">')
    assert f'href="/problems/{p.pk}/"' in panel and p.number in panel
    assert "Use webmail" in panel and "under investigation" in panel
    unlinked = incident(org, title="Unrelated")
    assert page.get(f"/problems/incidents/{unlinked.pk}/").content.decode().strip() == ""
    assert page.get("/problems/incidents/999999/").status_code == 404
    assert browser(org.reporter).get(f"/problems/incidents/{linked.pk}/").status_code == 302


# ---- markup rules and pinned query counts ---------------------------------------------------------


def test_csp_and_labels_on_the_problem_pages(org: Org, browser: Callable[..., Client]) -> None:
    p = problem(org, incidents=[incident(org)])
    rca.do_set_ishikawa(problem=p, actor=org.problem_manager, categories=FISHBONE)
    page = browser(org.problem_manager)
    for path in ("/problems/", f"/problems/{p.pk}/"):
        response = page.get(path)
        html = response.content.decode()
        assert "unsafe-inline" not in response["Content-Security-Policy"]
        assert not re.search(r"\son[a-z]+\s*=", html), "inline event handler"
        assert not re.search(r"\sstyle\s*=", html), "inline style attribute"
        assert "<style" not in html
        labelled = set(re.findall(r'<label[^>]*\sfor="([^"]+)"', html))
        for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", html):
            if re.search(r'type="(hidden|submit|radio|checkbox)"', tag):
                continue
            control_id = re.search(r'\sid="([^"]+)"', tag)
            assert control_id and control_id.group(1) in labelled, f"{path}: {tag}"


def test_board_query_count_is_pinned(org: Org, browser: Callable[..., Client],
                                     django_assert_num_queries: Any) -> None:  # fmt: skip
    for n in range(12):
        problem(org, title=f"Problem {n}", business_impact=n % 6,
                incidents=[incident(org) for _ in range(n % 3)])  # fmt: skip
    page = browser(org.desk_agent)
    page.get("/problems/")
    # session, user, the ranked rows, selection factors, technologies, groups, owners
    with django_assert_num_queries(7):
        response = page.get("/problems/")
    assert len(response.context["rows"]) == 12
    # A narrowing filter adds the query of the portfolio's ranks.
    with django_assert_num_queries(8):
        page.get(f"/problems/?technology={org.email.pk}")


def test_problem_page_query_count_is_pinned(org: Org, browser: Callable[..., Client],
                                            django_assert_num_queries: Any) -> None:  # fmt: skip
    p = problem(org, incidents=[incident(org) for _ in range(8)])
    rca.do_set_ishikawa(problem=p, actor=org.problem_manager, categories=FISHBONE)
    rca.do_set_five_whys(problem=p, actor=org.problem_manager,
                         steps=[{"why": f"w{n}", "because": f"b{n}"} for n in range(5)])  # fmt: skip
    for n in range(3):
        rca.do_record_review(problem=p, actor=org.problem_manager, lessons=f"l{n}", actions=[
            {"title": f"a{n}", "owner": org.mail_ops_agent}])  # fmt: skip
    page = browser(org.problem_manager)
    page.get("/")

    def count() -> int:
        with django_assert_num_queries(QUERIES) as captured:
            page.get(f"/problems/{p.pk}/")
        return len(captured.captured_queries)

    assert count() == QUERIES
    # More events, links, causes and reviews: the same number of queries.
    for _ in range(4):
        services.do_link_incident(problem=p, incident=incident(org), actor=org.desk_agent)
    rca.do_record_review(problem=p, actor=org.problem_manager, lessons="more", actions=[
        {"title": "b", "owner": org.mail_ops_agent}])  # fmt: skip
    assert count() == QUERIES


# session, user, the problem and its configuration items, user groups, team and known
# errors; Ishikawa causes, 5 whys, KT rows, linked incidents, reviews and their actions;
# the score's factors, severity/users aggregate and link count; events, spans, the
# assign form's group members, the Pareto analysis, and the review and assign forms'
# choices (people, groups).
QUERIES = 22


def test_pages_in_the_readers_language_and_locale(org: Org, browser: Callable[..., Client]) -> None:
    with time_machine.travel(datetime(2026, 3, 14, 9, 5, tzinfo=UTC), tick=False):
        p = problem(org, users_affected=12345)
    page = browser(org.desk_agent, "ru")
    for path in ("/problems/", f"/problems/{p.pk}/"):
        html = page.get(path).content.decode()
        assert '<html lang="ru">' in html and "14.03.2026 09:05" in html
    assert "12\xa0345" in page.get(f"/problems/{p.pk}/").content.decode()
