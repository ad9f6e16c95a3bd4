"""Two transactions at once, in a chosen order, against the test database."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import connection, connections, transaction


def waiting_for_a_lock() -> int:
    """How many sessions of the test database wait for a lock (PostgreSQL)."""
    with connection.cursor() as cursor:
        # Within a transaction PostgreSQL keeps one snapshot of the activity
        # view unless told to drop it.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return int(cursor.fetchone()[0])


def while_uncommitted(first: Callable[[], None], second: Callable[[], Any]) -> Any:
    """Run ``first`` in a transaction; start ``second`` (in its own transaction,
    in another thread) while ``first`` is uncommitted; commit ``first`` once
    ``second`` waits for one of its locks (PostgreSQL; on SQLite, where a write
    transaction holds the database, after a moment); return what ``second``
    returned, or raise what it raised."""
    started, result, failure = threading.Event(), [], []

    def other() -> None:
        try:
            started.wait(10)
            with transaction.atomic():
                result.append(second())
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=other)
    thread.start()
    try:
        with transaction.atomic():
            first()
            started.set()
            if connection.vendor == "postgresql":
                deadline = time.monotonic() + 10
                while not failure and waiting_for_a_lock() == 0 and time.monotonic() < deadline:
                    time.sleep(0.01)
                if not failure:
                    assert waiting_for_a_lock() == 1, "the second transaction never waited"
            else:
                time.sleep(0.2)
    finally:
        started.set()
        thread.join(20)
    if failure:
        raise failure[0]
    return result[0]


def giving_way(hold: Callable[[], object], act: Callable[[], Any]) -> Any:
    """Run ``act`` in another thread whose session gives up waiting for a lock
    after 200 ms (``lock_timeout``, PostgreSQL), while this thread's transaction
    has run ``hold`` (which locks what ``act`` needs); return what ``act``
    returned, or raise what it raised."""
    result, failure = [], []

    def other() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = '200ms'")
            result.append(act())
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)
        finally:
            connections.close_all()

    with transaction.atomic():
        hold()
        thread = threading.Thread(target=other)
        thread.start()
        thread.join(20)
    if failure:
        raise failure[0]
    return result[0]
