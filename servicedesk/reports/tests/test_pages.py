"""The reports dashboard (Django's test client): renders every report, applies
the API's filters, links the exports; pinned query counts."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
import time_machine
from django.test import Client

from servicedesk.accounts.models import User
from servicedesk.reports import pending, registry
from servicedesk.reports.params import ReportQuery
from servicedesk.testing.org import Org

from . import problem_story
from .problem_story import at
from .test_problem_figures import PROBLEM_SLUGS

MARCH: dict[str, Any] = {"from": "2025-03-01", "to": "2025-03-31"}
NOW = at(12, day=20)


@pytest.fixture(autouse=True)
def _calendar(settings: Any) -> None:
    settings.SERVICEDESK_REPORTS_TIME_ZONE = "UTC"
    settings.SERVICEDESK_REPORTS_BUSINESS_HOURS = "09:00-18:00"
    settings.SERVICEDESK_REPORTS_HOLIDAYS = ""
    settings.SERVICEDESK_REPORTS_CALENDAR = ""
    settings.SERVICEDESK_REPORTS_TARGET_HOURS = ""


def signed_in(user: User) -> Client:
    client = Client(headers={"accept-language": "en"})
    client.force_login(user)
    return client


@pytest.fixture
def built(org: Org) -> problem_story.Built:
    return problem_story.build(org)


@pytest.fixture
def now() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield NOW


def text(response: Any) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", response.content.decode()))


def table_rows(html: str, key: str) -> list[list[str]]:
    body = re.search(rf'data-table="{key}">.*?<tbody>(.*?)</tbody>', html, re.S)
    assert body is not None, key
    return [
        [unescape(c.strip()) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)
    ]


def test_staff_see_reports_in_the_navigation_and_end_users_do_not(org: Org, db: None) -> None:
    assert 'href="/reports/"' in signed_in(org.desk_agent).get("/").content.decode()
    portal = signed_in(org.reporter)
    assert 'href="/reports/"' not in portal.get("/portal/").content.decode()
    assert portal.get("/reports/")["Location"] == "/portal/"
    assert portal.get("/reports/mttr/card/")["Location"] == "/portal/"
    assert Client().get("/reports/")["Location"].startswith("/accounts/login/")


def test_the_dashboard_has_a_card_per_report_and_the_apis_filters(
    org: Org, built: Any, now: Any
) -> None:
    response = signed_in(org.desk_manager).get("/reports/", {**MARCH, "technology": org.network.pk})
    assert response.status_code == 200
    html = response.content.decode()
    query = f"from=2025-03-01&amp;to=2025-03-31&amp;technology={org.network.pk}"
    for slug in registry.all_reports():
        assert f'hx-get="/reports/{slug}/card/?{query}"' in html, slug
    # The form's fields are the API's query parameters.
    form = re.search(r'<form class="filters report-filters".*?</form>', html, re.S)
    assert form is not None
    names = set(re.findall(r'name="([a-z_]+)"', form.group(0)))
    api_names = {f.alias or n for n, f in ReportQuery.model_fields.items()} - {"table"}
    assert names == api_names
    assert f'<option value="{org.network.pk}" selected>' in form.group(0)
    assert 'value="2025-03-01"' in form.group(0)
    sections = re.findall(r'<h2 id="section-([a-z_]+)"', html)
    assert sections == ["incident", "problem", "known_error"]


def test_a_card_draws_the_chart_and_tables_with_the_filters_applied(
    org: Org, built: Any, now: Any
) -> None:
    client = signed_in(org.desk_manager)
    response = client.get("/reports/problems-by-period/card/", MARCH)
    html = response.content.decode()
    assert response.status_code == 200
    svg = re.search(r"<svg .*?</svg>", html, re.S)
    assert svg is not None and 'role="img"' in svg.group(0)
    assert svg.group(0).count("<rect x=") >= 3  # one bar per series with a value, and legend
    assert table_rows(html, "by_month") == [["2025-03", "2", "1", "1"]]
    filtered = client.get(
        "/reports/problems-by-period/card/", {**MARCH, "technology": org.email.pk}
    )
    assert table_rows(filtered.content.decode(), "by_month") == [["2025-03", "1", "0", "0"]]
    # The export links carry the same filters to the API.
    exports = re.findall(r'href="(/api/v1/reports/[^"]+)"', filtered.content.decode())
    query = f"?from=2025-03-01&amp;to=2025-03-31&amp;technology={org.email.pk}"
    assert exports == [f"/api/v1/reports/problems-by-period.{ext}{query}"
                       for ext in ("csv", "xlsx", "svg")]  # fmt: skip
    api = client.get(unescape(exports[0]))
    assert api.status_code == 200 and "2025-03,1,0,0" in api.content.decode()


def test_the_report_page_shows_every_table_in_the_readers_format(
    org: Org, built: Any, now: Any
) -> None:
    response = signed_in(org.desk_manager).get("/reports/problem-time-per-level/", MARCH)
    html = response.content.decode()
    assert response.status_code == 200
    assert table_rows(html, "by_level") == [
        ["2", "1", "9.00", "8.00", "9.00"],
        ["3", "1", "4.00", "4.00", "4.00"],
    ]
    assert [r[0] for r in table_rows(html, "by_group")] == [
        "Network Operations", "Network Engineering",
    ]  # fmt: skip
    page = text(response)
    assert "Mean time spent on a problem at each level" in page
    levels = signed_in(org.desk_manager).get("/reports/incidents-by-level/", MARCH)
    # Shares as percentages, booleans as words (two incidents resolved, one at the 3rd line).
    assert ["3", "1", "50.0 %", "1", "50.0 %", "100.0 %", "0", "100.0 %", "received", "yes"] in (
        table_rows(levels.content.decode(), "by_level")
    )


def test_invalid_filters_are_ignored_and_named(org: Org, built: Any, now: Any) -> None:
    client = signed_in(org.desk_manager)
    response = client.get("/reports/", {"from": "2025-04-01", "to": "2025-03-01", "severity": "x"})
    assert response.status_code == 200
    assert re.search(r"Ignored invalid filters: from, severity, to|Ignored invalid filters: "
                     r"severity, from, to", text(response))  # fmt: skip
    # The period falls back to the default: from the 1st of the month a year ago to today.
    assert re.findall(r'value="(\d{4}-\d{2}-\d{2})"', response.content.decode()) == [
        "2024-03-01", "2025-03-20",
    ]  # fmt: skip
    assert client.get("/reports/no-such-report/").status_code == 404


# What a page costs, whatever the data: session and user, then the form's four
# choice lists (dashboard); a card adds only its report's own queries.
DASHBOARD_QUERIES = 6


@pytest.mark.parametrize("more", [False, True])
def test_pinned_query_counts(
    org: Org, built: Any, now: Any, more: bool, django_assert_num_queries: Any
) -> None:
    if more:
        from servicedesk.problems import services as ps

        with time_machine.travel(at(9, day=11), tick=False):
            for n in range(3):
                ps.do_create_problem(actor=org.problem_manager, title=f"Extra {n}",
                                     technology=org.network, owner_group=org.net_ops)  # fmt: skip
    client = signed_in(org.desk_manager)
    client.get("/reports/")  # warm the registry and the session
    pending.catch_up()  # the facts are current (what a running worker keeps them)
    with django_assert_num_queries(DASHBOARD_QUERIES):
        assert client.get("/reports/", MARCH).status_code == 200
    with django_assert_num_queries(3):  # session, user, the problems' events
        assert client.get("/reports/problems-deferred/card/", MARCH).status_code == 200
    # session, user, the facts' pending marks (none), one scan of the incident facts
    with django_assert_num_queries(4):
        assert client.get("/reports/mttr/card/", MARCH).status_code == 200
    with django_assert_num_queries(DASHBOARD_QUERIES + 1):  # the form, the problems' events
        assert client.get("/reports/time-to-root-cause/", MARCH).status_code == 200


@pytest.mark.parametrize("slug", [*PROBLEM_SLUGS[:3], "incidents-open", "satisfaction"])
def test_every_kind_of_card_renders(org: Org, built: Any, now: Any, slug: str) -> None:
    response = signed_in(org.desk_manager).get(f"/reports/{slug}/card/", MARCH)
    assert response.status_code == 200
    assert "<svg " in response.content.decode() and 'data-table="' in response.content.decode()


def test_every_string_a_report_shows_is_marked_for_translation(db: None) -> None:
    from servicedesk.reports.params import build_params
    from servicedesk.reports.ui_strings import STRINGS
    from servicedesk.reports.views import SECTIONS

    params = build_params({})
    shown = {label for _, label in SECTIONS}
    for report in registry.all_reports().values():
        shown |= {report.title, report.description}
        result = report.compute(params)
        columns = {c.key for t in result.tables for c in t.columns}
        for table in result.tables:
            shown |= {table.title, *(c.label for c in table.columns)}
        shown |= {k.replace("_", " ").capitalize() for k in result.summary if k not in columns}
    assert shown - STRINGS == set()


def test_the_dashboard_shows_every_report_string_in_russian() -> None:
    """The strings are extracted by makemessages (``gettext_noop``) and translated."""
    from django.utils import translation

    from servicedesk.reports.ui_strings import STRINGS

    with translation.override("ru"):
        untranslated = {s for s in STRINGS if translation.gettext(s) == s}
    assert untranslated == set()
