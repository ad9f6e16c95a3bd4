"""Report facts recomputed after the change, many incidents at a time.

A change of an incident marks it (:func:`mark`, one upsert in the change's
transaction) instead of recomputing its facts there: a registration, an
acceptance or an escalation step then pays one statement for reports, not a
dozen, and the worker recomputes the marked incidents in batches
(:func:`refresh_pending`, a ``registry.drain``), which costs a fraction per
incident. Reports call :func:`catch_up` before they read, so what they show
is exactly what the timelines say even when no worker runs.

A mark carries a sequence number that every change bumps. The batch locks the
marks it takes (``SKIP LOCKED``: two workers never take the same incident, so
the monthly counts never move twice) and removes only those whose number is
still the one it read: a change that commits while the batch computes keeps
its mark, and the incident is recomputed again.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection, transaction
from django.db.models import Q

from . import facts
from .models import PendingFact

BATCH = 250


def mark(incident_ids: Iterable[int]) -> None:
    """Note that these incidents' facts are behind their timelines."""
    table = connection.ops.quote_name(PendingFact._meta.db_table)
    # Both databases speak INSERT ... ON CONFLICT DO UPDATE (SQLite since 3.24).
    sql = (
        f"INSERT INTO {table} (incident_id, seq) VALUES (%s, 1) "  # noqa: S608
        f"ON CONFLICT (incident_id) DO UPDATE SET seq = {table}.seq + 1"
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, [(pk,) for pk in sorted(set(incident_ids))])


def backlog() -> int:
    """How many incidents' facts wait to be recomputed."""
    return PendingFact.objects.count()


def refresh_pending(*, limit: int = BATCH, wait: bool = False) -> int:
    """Recompute the facts of up to ``limit`` marked incidents; returns how many
    marks were taken. ``wait``: wait for marks another transaction holds instead
    of skipping them (a report about to read needs them done)."""
    # Outside a transaction: on SQLite an idle worker's poll then takes no write lock.
    if not PendingFact.objects.exists():
        return 0
    with transaction.atomic():
        taken = list(
            PendingFact.objects.select_for_update(skip_locked=not wait)
            .order_by("incident_id")
            .values_list("incident_id", "seq")[:limit]
        )
        if not taken:
            return 0
        facts.refresh(pk for pk, _ in taken)
        seen = Q()
        for pk, seq in taken:
            seen |= Q(incident_id=pk, seq=seq)
        PendingFact.objects.filter(seen).delete()
    return len(taken)


def catch_up() -> int:
    """Recompute every marked incident now (before a report reads the facts);
    returns how many. Nothing marked costs one indexed read."""
    marked = PendingFact.objects.count()
    done = 0
    # Bounded: marks that keep arriving while we work are the next reader's.
    for _ in range(marked // BATCH + 2 if marked else 0):
        taken = refresh_pending(wait=True)
        if not taken:
            break
        done += taken
    return done
