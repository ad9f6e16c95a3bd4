"""Reading one row by a key: no ORDER BY (Django compiles one by hashing every
selected column, which cost as much as the rest of a detail request)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from servicedesk.core.lookups import one
from servicedesk.incidents import selectors, services
from servicedesk.incidents.models import Incident
from servicedesk.testing.org import Org

pytestmark = pytest.mark.django_db


def test_one_reads_the_row_without_ordering(org: Org) -> None:
    made = services.do_create_incident(actor=org.desk_agent, title="Printer jams")
    with CaptureQueriesContext(connection) as captured:
        found = selectors.get_incident(org.desk_agent, made.pk)
    assert found == made and found.assigned_group == org.service_desk
    (query,) = captured.captured_queries
    assert "ORDER BY" not in query["sql"] and "LIMIT 1" in query["sql"]
    assert one(Incident.objects.filter(pk=made.pk + 1000)) is None
