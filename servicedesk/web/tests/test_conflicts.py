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
