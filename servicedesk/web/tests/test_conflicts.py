"""An action that gives way to a concurrent change says so on its form."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client

from servicedesk.incidents.models import Incident, Status
from servicedesk.testing.concurrency import giving_way
from servicedesk.testing.org import Org

from .conftest import HTMX

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_action_that_gave_way_on_a_lock_asks_to_try_again(
    org: Org, browser: Callable[..., Client], incident_for: Callable[..., Incident]
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no row locks to give way on")
    incident = incident_for()
    response = giving_way(
        lambda: Incident.objects.select_for_update().get(pk=incident.pk),
        lambda: browser(org.desk_agent, "ru").post(
            f"/incidents/{incident.pk}/accept/", {"accept-version": incident.version}, headers=HTMX
        ),
    )
    assert response.status_code == 422
    assert "попробуйте ещё раз" in response.content.decode()
    assert Incident.objects.get(pk=incident.pk).status == Status.NEW


def test_any_page_that_loses_a_race_says_try_again(
    org: Org, browser: Callable[..., Client]
) -> None:
    """Pages without a form of their own to show it on (here: a calendar link for
    an on-call schedule that someone else holds) answer 409 with the reason: a
    page, or for htmx the sentence that app.js shows."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no row locks to give way on")
    from servicedesk.oncall.models import OnCallSchedule
    from servicedesk.oncall.tests.test_paging import net_ops_schedule

    schedule = net_ops_schedule(org)
    url = f"/oncall/schedules/{schedule.pk}/feed-link/"

    def hold() -> object:
        return OnCallSchedule.objects.select_for_update().get(pk=schedule.pk)

    page = giving_way(hold, lambda: browser(org.net_ops_manager).post(url, {"do": "new"}))
    assert page.status_code == 409
    text = page.content.decode()
    assert "<h1>Try again</h1>" in text and "A concurrent change got in the way" in text
    fragment = giving_way(hold, lambda: browser(org.net_ops_manager, "ru").post(
        url, {"do": "new"}, headers={"HX-Request": "true"}
    ))  # fmt: skip
    assert fragment.status_code == 409 and fragment["Content-Type"].startswith("text/plain")
    assert fragment.content.decode() == "Помешало одновременное изменение; попробуйте ещё раз."
    schedule.refresh_from_db()
    assert schedule.feed_key_digest == ""
