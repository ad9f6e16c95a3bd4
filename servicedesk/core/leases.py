"""Claiming leased rows: one conditional UPDATE, the same on both databases.

A claim is a single statement::

    WITH picked AS MATERIALIZED (
        SELECT id FROM t WHERE state IN ('pending','leased') AND due_at <= now
        ORDER BY due_at, id LIMIT n [FOR UPDATE SKIP LOCKED])
    UPDATE t SET state='leased', lease_owner=..., due_at=<lease expiry>, token=token+1
     WHERE id IN (SELECT id FROM picked) AND state IN ('pending','leased') AND due_at <= now
    RETURNING id, token

The candidates are materialised once (a plain ``IN (SELECT ... LIMIT n)`` may
be re-evaluated by PostgreSQL's planner and take more than n rows). The outer
condition repeats the inner one, so a row that another worker took
between the sub-select and the update is not taken twice (PostgreSQL
re-evaluates it after waiting for the row lock; SQLite runs the statement
under its single write lock). ``SKIP LOCKED`` is only PostgreSQL's fast path:
it keeps concurrent workers from queueing on each other's candidates.

A worker that then writes effects does so while holding the returned token;
``hold`` re-checks it inside the effect's transaction, so a worker whose lease
expired and was reclaimed cannot commit (the fencing token).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import connection, models

from .models import RowState


def _adapt(value: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def claim(
    model: type[models.Model],
    *,
    owner: str,
    now: datetime,
    lease_seconds: float,
    limit: int,
) -> list[tuple[int, int]]:
    """Lease up to ``limit`` due rows of ``model``; returns ``[(id, token), ...]``."""
    table = connection.ops.quote_name(model._meta.db_table)
    lock = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    lease_until = now + timedelta(seconds=lease_seconds)
    # The claimable states are written into the statement, not passed: a prepared
    # statement's generic plan can then use the partial index on them (with
    # parameters PostgreSQL cannot prove its predicate and scans the table).
    claimable = f"('{RowState.PENDING.value}', '{RowState.LEASED.value}')"
    sql = (
        f"WITH picked AS MATERIALIZED (SELECT id FROM {table} "  # noqa: S608 (table name from model meta)
        f"WHERE state IN {claimable} AND due_at <= %s ORDER BY due_at, id LIMIT %s{lock}) "
        f"UPDATE {table} SET state = %s, lease_owner = %s, due_at = %s, "
        f"token = token + 1, updated_at = %s "
        f"WHERE id IN (SELECT id FROM picked) AND state IN {claimable} AND due_at <= %s "
        f"RETURNING id, token"
    )
    params = [
        _adapt(now), limit,
        RowState.LEASED, owner[:200], _adapt(lease_until), _adapt(now),
        _adapt(now),
    ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return sorted((int(pk), int(token)) for pk, token in rows)


def hold(model: type[models.Model], pk: int, token: int) -> bool:
    """Inside a transaction: lock the row if ``token`` is still the holder's.

    On PostgreSQL the row lock also blocks a reclaim until this transaction
    ends; on SQLite the transaction already holds the database's write lock.
    """
    return (
        model._default_manager.select_for_update()
        .filter(pk=pk, token=token, state=RowState.LEASED)
        .exists()
    )


def release(model: type[models.Model], pk: int, token: int, **fields: Any) -> bool:
    """Update the row only if ``token`` still holds it; False when fenced out."""
    return bool(
        model._default_manager.filter(pk=pk, token=token, state=RowState.LEASED).update(**fields)
    )


def backoff(attempt: int, *, base: float = 5.0, cap: float = 3600.0) -> timedelta:
    """Exponential backoff: 5 s, 10 s, 20 s, ... capped at an hour."""
    return timedelta(seconds=min(cap, base * (2 ** max(0, attempt - 1))))
