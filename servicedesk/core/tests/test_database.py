"""The database session as the application configures it."""

from __future__ import annotations

import pytest
from django.db import connection

from servicedesk.core.lookups import KeyedRead
from servicedesk.incidents.models import Incident

pytestmark = pytest.mark.django_db


def test_postgresql_plans_an_incident_read_without_searching_every_join_order() -> None:
    """An incident is read with ten LEFT JOINs; at PostgreSQL's default
    join_collapse_limit (8) planning them took twenty times the query."""
    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL planner setting")
    with connection.cursor() as cursor:
        cursor.execute("SHOW join_collapse_limit")
        assert cursor.fetchone()[0] == "4"


def test_sqlite_takes_the_write_lock_at_begin_and_waits_for_it() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's options")
    options = connection.settings_dict["OPTIONS"]
    assert options["transaction_mode"] == "IMMEDIATE" and options["timeout"] == 30
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"


def test_postgresql_prepares_the_statements_a_connection_repeats() -> None:
    """Server-side binding, and a statement run twice on a connection is prepared:
    parsed and planned once, not on every execution."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's prepared statements")
    assert connection.settings_dict["OPTIONS"]["server_side_binding"] is True
    read = KeyedRead(lambda pk: Incident.objects.select_related("reporter").filter(pk=pk))
    for _ in range(3):
        read(1)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ['%FROM "incidents_incident" %JOIN "accounts_user"%'],
        )
        assert cursor.fetchone()[0] == 1
