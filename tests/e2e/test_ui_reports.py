"""The reports dashboard in a real browser: every report's card loads (htmx) with
its chart, the filter form narrows them, and the page is photographed for the
docs (docs/screenshots/reports.png)."""

from __future__ import annotations

from typing import Any

import pytest

from servicedesk.reports import registry
from servicedesk.reports.tests import problem_story
from servicedesk.testing.org import Org, build_org

from .conftest import sign_in
from .shots import shoot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PERIOD = "from=2025-03-01&to=2025-04-30"


@pytest.fixture
def org(transactional_db: None, settings: Any) -> Org:
    settings.SERVICEDESK_REPORTS_TIME_ZONE = "UTC"
    settings.SERVICEDESK_REPORTS_CALENDAR = ""
    return build_org()


def cells(page: Any, slug: str) -> list[str]:
    """The first row of the card's first table (folded in a <details>: not rendered)."""
    row = page.locator(f"#card-{slug} table[data-table] tbody tr").first
    return [(c or "").strip() for c in row.locator("td").all_text_contents()]


def test_the_dashboard_renders_its_charts(org: Org, open_page: Any) -> None:
    problem_story.build(org)
    slugs = list(registry.all_reports())
    page = open_page(viewport={"width": 1440, "height": 1600})
    # (A manager in no support group cannot open the workspace yet: web reports EmptyResultSet.)
    sign_in(page, org.problem_manager.username)
    page.click("nav.main-nav a:has-text('Reports')")
    page.wait_for_url("**/reports/")
    page.goto(f"/reports/?{PERIOD}")
    # Every card is loaded by htmx and draws its chart as an SVG image.
    charts = page.locator(".report-card figure.report-chart svg[role=img]")
    charts.nth(len(slugs) - 1).wait_for()
    assert charts.count() == len(slugs)
    for slug in slugs:
        card = page.locator(f"#card-{slug}")
        assert (card.locator("svg title").first.text_content() or "") != "", slug
        assert card.locator("a[data-format=csv]").get_attribute("href") == (
            f"/api/v1/reports/{slug}.csv?{PERIOD}"
        )
    bars = page.locator("#card-problems-by-period svg rect > title")  # one per bar
    assert bars.count() == 2 * 3  # two months, three series
    assert cells(page, "problems-by-period") == ["2025-03", "2", "1", "1"]
    assert "Network Operations" in (page.text_content("#card-problem-time-per-level") or "")
    shoot(page, "reports.png")

    # The filter form (GET, the API's parameters) narrows every card.
    page.select_option("#filter-technology", label="E-mail")
    page.click("form.report-filters button[type=submit]")
    page.wait_for_url(f"**/reports/?*technology={org.email.pk}*")
    charts.nth(len(slugs) - 1).wait_for()
    assert cells(page, "problems-by-period") == ["2025-03", "1", "0", "0"]

    # A report's own page: its chart, every table, and the exports.
    page.click("#card-fix-projects h3 a")
    page.wait_for_url("**/reports/fix-projects/?*")
    assert page.locator("figure.report-chart svg").count() == 1
    assert page.locator("table[data-table]").count() == 3
    svg = page.request.get(page.locator("a[data-format=svg]").get_attribute("href") or "")
    assert svg.ok and svg.headers["content-type"].startswith("image/svg+xml")
