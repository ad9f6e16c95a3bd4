"""The database session as the application configures it."""

from __future__ import annotations

import pytest
from django.db import connection

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
