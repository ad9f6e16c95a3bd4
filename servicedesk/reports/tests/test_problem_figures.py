"""Every problem and known-error figure, hand-computed on the problem story
(see problem_story.py: deferred and resumed, escalated and handed back)."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine

from servicedesk.problems.models import ProblemEvent
from servicedesk.testing.org import Org

from . import problem_story
from .problem_story import at
from .test_figures import by_name, fetch, rows

PROBLEM_SLUGS = [
    "problems-by-period", "problems-open", "problems-deferred", "problem-time-per-level",
    "time-to-root-cause", "problems-by-technology", "problems-by-user-group", "known-errors",
    "fix-projects",
]  # fmt: skip


@pytest.fixture(autouse=True)
def _calendar(settings: Any) -> None:
    settings.SERVICEDESK_REPORTS_TIME_ZONE = "UTC"
    settings.SERVICEDESK_REPORTS_BUSINESS_HOURS = "09:00-18:00"
    settings.SERVICEDESK_REPORTS_HOLIDAYS = ""
    settings.SERVICEDESK_REPORTS_CALENDAR = ""


@pytest.fixture
def built(org: Org) -> problem_story.Built:
    return problem_story.build(org)


def test_problems_by_month_and_quarter(api: Any, org: Org, built: Any) -> None:
    body = fetch(api, org.problem_manager, "problems-by-period", **{"from": "2025-02-01"})
    assert rows(body, "by_month") == [
        {"month": "2025-02", "opened": 0, "cause_found": 0, "finished": 0},
        {"month": "2025-03", "opened": 2, "cause_found": 1, "finished": 1},
    ]
    assert rows(body, "by_quarter") == [
        {"quarter": "2025-Q1", "opened": 2, "cause_found": 1, "finished": 1}
    ]
    # Filters: technology, user group (the problem's), severity (of a linked incident).
    assert fetch(api, org.desk_manager, "problems-by-period", technology=org.email.pk)[
        "summary"
    ] == {"opened": 1, "cause_found": 0, "finished": 0}
    finance = fetch(api, org.desk_manager, "problems-by-period", user_group=org.finance.pk)
    assert finance["summary"]["opened"] == 1
    assert fetch(api, org.desk_manager, "problems-by-period", severity=3)["summary"]["opened"] == 1
    assert fetch(api, org.desk_manager, "problems-by-period", severity=1)["summary"]["opened"] == 0
    # Support level: reached the 3rd line; group: held by it at some time.
    assert fetch(api, org.desk_manager, "problems-by-period", support_level=3)["summary"] == {
        "opened": 1, "cause_found": 1, "finished": 1,
    }  # fmt: skip
    assert fetch(api, org.desk_manager, "problems-by-period", group=org.mail_ops.pk)["summary"] == {
        "opened": 1,
        "cause_found": 0,
        "finished": 0,
    }


def test_time_per_level_excludes_the_deferral(api: Any, org: Org, built: Any) -> None:
    body = fetch(api, org.desk_manager, "problem-time-per-level")
    levels = {r["support_level"]: r for r in rows(body, "by_level")}
    assert levels[2] == {
        "support_level": 2, "problems": 1, "mean_hours": 9.0, "mean_business_hours": 8.0,
        "total_hours": 9.0,
    }  # fmt: skip
    assert levels[3]["mean_hours"] == 4.0 and levels[3]["mean_business_hours"] == 4.0
    groups = by_name(rows(body, "by_group"))
    assert groups["Network Operations"]["mean_hours"] == 9.0
    assert groups["Network Engineering"]["mean_hours"] == 4.0
    # The level filter keeps that level's rows only.
    only3 = fetch(api, org.desk_manager, "problem-time-per-level", support_level=3)
    assert [r["support_level"] for r in rows(only3, "by_level")] == [3]
    # Problems finished in February: none.
    feb = fetch(api, org.desk_manager, "problem-time-per-level", **{"from": "2025-02-01",
                                                                     "to": "2025-02-28"})  # fmt: skip
    assert rows(feb, "by_level") == [] and feb["summary"] == {"problems": 0}


def test_time_to_root_cause(api: Any, org: Org, built: Any) -> None:
    body = fetch(api, org.desk_manager, "time-to-root-cause")
    assert rows(body, "by_priority") == [
        {"priority": 2, "problems": 1, "mean_hours": 30.0, "mean_business_hours": 14.0,
         "mean_net_hours": 11.0, "mean_investigation_hours": 8.0, "mean_estimate_hours": 10.0,
         "within_estimate": 1}
    ]  # fmt: skip
    assert body["summary"]["within_estimate_share"] == 1.0
    # The problem's own investigation clock agrees with the timeline.
    found = ProblemEvent.objects.get(problem=built.problem, type="root_cause_found")
    assert found.payload["investigation_hours"] == 8.0


def test_deferred_and_resumed(api: Any, org: Org, built: Any) -> None:
    body = fetch(api, org.desk_manager, "problems-deferred")
    march = next(r for r in rows(body, "by_month") if r["month"] == "2025-03")
    assert march == {"month": "2025-03", "deferred": 1, "resumed": 1}
    assert body["summary"] == {
        "deferred_now": 0, "deferred": 1, "resumed": 1, "mean_deferred_hours": 19.0,
    }  # fmt: skip
    assert rows(body, "deferred_now") == []


def test_deferred_now_and_open_problems_mid_story(api: Any, org: Org) -> None:
    problem_story.build(org, until=at(15))
    with time_machine.travel(at(16), tick=False):
        deferred = fetch(api, org.desk_manager, "problems-deferred")
        [row] = rows(deferred, "deferred_now")
        assert row["deferred_hours"] == 1.0 and row["times_deferred"] == 1
        assert row["deferred_business_hours"] == 1.0 and row["priority"] == 2
        body = fetch(api, org.desk_manager, "problems-open")
    assert body["summary"] == {"open": 1}
    assert {r["status"]: r["open"] for r in rows(body, "by_status")} == {
        "new": 0, "under investigation": 0, "deferred": 1,
    }  # fmt: skip
    # Opened 08:00, now 16:00: 8 h of calendar time, 7 h of business time.
    elapsed = {r["bucket"]: r for r in rows(body, "by_elapsed")}
    assert elapsed["8-24 h"]["calendar"] == 1 and elapsed["4-8 h"]["business"] == 1
    assert sum(r["calendar"] for r in elapsed.values()) == 1
    [holder] = rows(body, "by_group")
    assert holder["group"]["name"] == "Network Engineering" and holder["support_level"] == 3


def test_open_problems_after_the_story(api: Any, org: Org, built: Any) -> None:
    with time_machine.travel(at(12, day=10), tick=False):
        body = fetch(api, org.desk_manager, "problems-open")
        assert body["summary"] == {"open": 1}
        [holder] = rows(body, "by_group")
        assert holder["group"]["name"] == "Mail Operations"
        # Level and group mean the current ones for what is open now.
        assert fetch(api, org.desk_manager, "problems-open", support_level=3)["summary"] == {
            "open": 0
        }


def test_by_technology_and_user_group(api: Any, org: Org, built: Any) -> None:
    body = fetch(api, org.desk_manager, "problems-by-technology")
    assert by_name(rows(body, "by_technology"), "technology") == {
        "Network": {"technology": {"id": org.network.pk, "name": "Network"}, "opened": 1,
                    "open_now": 0, "cause_unknown_now": 0, "finished": 1},
        "E-mail": {"technology": {"id": org.email.pk, "name": "E-mail"}, "opened": 1,
                   "open_now": 1, "cause_unknown_now": 1, "finished": 0},
    }  # fmt: skip
    groups = by_name(rows(fetch(api, org.desk_manager, "problems-by-user-group"), "by_user_group"),
                     "user_group")  # fmt: skip
    assert {name: row["opened"] for name, row in groups.items()} == {"Finance": 1, "Sales": 1}
    assert groups["Finance"]["finished"] == 1 and groups["Sales"]["cause_unknown_now"] == 1


def test_known_errors_and_the_incidents_they_caused(api: Any, org: Org, built: Any) -> None:
    body = fetch(api, org.desk_manager, "known-errors")
    assert body["summary"] == {
        "known_errors": 1, "registered": 1, "incidents": 1, "resolved_by_workaround": 1,
    }  # fmt: skip
    march = next(r for r in rows(body, "by_month") if r["month"] == "2025-03")
    assert march == {"month": "2025-03", "registered": 1, "incidents": 1,
                     "resolved_by_workaround": 1}  # fmt: skip
    [per_error] = rows(body, "by_known_error")
    assert per_error["known_error"]["id"] == built.known_error.pk and per_error["incidents"] == 1
    # The incident caused is a Sales one: a Finance filter leaves it out.
    finance = fetch(api, org.desk_manager, "known-errors", user_group=org.finance.pk)
    assert finance["summary"]["incidents"] == 0 and finance["summary"]["known_errors"] == 1
    assert (
        fetch(api, org.desk_manager, "known-errors", technology=org.email.pk)["summary"][
            "known_errors"
        ]
        == 0
    )


def test_fix_projects_started_implemented_and_cost(api: Any, org: Org, built: Any) -> None:
    march = fetch(api, org.desk_manager, "fix-projects")
    assert march["summary"] == {
        "proposed": 2, "started": 1, "implemented": 0, "cancelled": 1, "implemented_cost": 0,
        "total_cost": 6200.0,
    }  # fmt: skip
    spring = fetch(api, org.desk_manager, "fix-projects", to="2025-04-30")
    assert spring["summary"]["implemented"] == 1 and spring["summary"]["implemented_cost"] == 6200
    april = next(r for r in rows(spring, "by_month") if r["month"] == "2025-04")
    assert april == {"month": "2025-04", "proposed": 0, "started": 0, "implemented": 1,
                     "cancelled": 0, "implemented_cost": 6200.0}  # fmt: skip
    statuses = {r["status"]: r for r in rows(spring, "by_status")}
    assert statuses["implemented"]["projects"] == 1 and statuses["implemented"]["cost"] == 6200
    assert statuses["cancelled"]["cost_estimate"] == 1000
    # Group filter: fix project A belongs to Network Engineering, B to no group.
    mine = fetch(api, org.desk_manager, "fix-projects", group=org.net_eng.pk)
    assert mine["summary"]["proposed"] == 1 and mine["summary"]["cancelled"] == 0


@pytest.mark.parametrize("slug", PROBLEM_SLUGS)
def test_each_format(api: Any, org: Org, built: Any, slug: str) -> None:
    client = api(org.desk_manager)
    for suffix in ("", ".csv", ".xlsx", ".svg"):
        response = client.get(f"/reports/{slug}{suffix}", **{"from": "2025-03-01"})
        assert response.status_code == 200, (suffix, response.content[:300])


def test_query_count_does_not_grow_with_problems(
    api: Any, org: Org, built: Any, django_assert_max_num_queries: Any
) -> None:
    client = api(org.desk_manager)
    for slug in PROBLEM_SLUGS:
        with django_assert_max_num_queries(12):
            assert client.get(f"/reports/{slug}", **{"from": "2025-03-01"}).status_code == 200


def test_a_user_group_filter_keeps_that_group_only(api: Any, org: Org, built: Any) -> None:
    # The E-mail problem affects Sales; give it Finance too: it counts in both rows,
    # but filtered on Finance only the Finance row is shown.
    built.other.user_groups.add(org.finance)
    body = fetch(api, org.desk_manager, "problems-by-user-group")
    assert {r["user_group"]["name"]: r["opened"] for r in rows(body, "by_user_group")} == {
        "Finance": 2, "Sales": 1,
    }  # fmt: skip
    finance = fetch(api, org.desk_manager, "problems-by-user-group", user_group=org.finance.pk)
    assert [(r["user_group"]["name"], r["opened"]) for r in rows(finance, "by_user_group")] == [
        ("Finance", 2)
    ]
