"""Two requests at the same moment: the one that loses gets a 4xx, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from servicedesk.escalation.models import BusinessCalendar
from servicedesk.testing.api import ApiClient
from servicedesk.testing.concurrency import giving_way, while_uncommitted
from servicedesk.testing.org import Org

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_create_that_loses_a_race_on_a_unique_name_is_a_409(org: Org) -> None:
    """The second create checks the name before the first has committed, so the
    unique constraint decides (PostgreSQL): 409, and only one calendar exists.
    On SQLite the second waits for the first and its check says 422."""

    def first() -> None:
        BusinessCalendar.objects.create(name="Berlin office")

    def second() -> Any:
        return ApiClient(org.admin).post("/business-calendars", {"name": "Berlin office"})

    response = while_uncommitted(first, second)
    if connection.vendor == "postgresql":
        assert response.status_code == 409, response.content
        assert "try again" in response.json()["detail"]
    else:
        assert response.status_code == 422, response.content
        assert response.json()["detail"][0]["loc"] == ["body", "name"]
    assert BusinessCalendar.objects.filter(name="Berlin office").count() == 1


def test_a_request_that_gives_way_on_a_lock_is_told_to_retry(org: Org) -> None:
    """PostgreSQL fails a transaction to break a deadlock, or when it waited
    longer than ``lock_timeout`` (which an operator may set): that request is a
    409 with Retry-After, not a 500, and changes nothing."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no row locks to give way on")
    calendar = BusinessCalendar.objects.create(name="One")
    response = giving_way(
        lambda: BusinessCalendar.objects.select_for_update().get(pk=calendar.pk),
        lambda: ApiClient(org.admin).put(f"/business-calendars/{calendar.pk}", {"name": "Renamed"}),
    )
    assert response.status_code == 409, response.content
    assert response["Retry-After"] == "1"
    assert "try again" in response.json()["detail"]
    assert BusinessCalendar.objects.get(pk=calendar.pk).name == "One"
