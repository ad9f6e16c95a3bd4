"""Row locks that read their related rows in the same statement, correctly.

``SELECT ... FOR UPDATE OF self`` with ``select_related`` saves a query per
lock, but on PostgreSQL it can return related rows that do not belong to the
locked row: when the row changed while we waited for its lock, PostgreSQL
re-checks the new version of the row against the related rows it had already
read (EvalPlanQual). A foreign key the other transaction changed then joins to
nothing: the related object reads as ``None`` (an outer join) or the row is
not returned at all (an inner join). Saving such an instance would write the
``None`` back. Once we hold the lock nobody can change the row, so reading it
again gives a consistent answer; that second read happens only after a
concurrent change.

That check covers foreign keys. Rows that are guarded by the locked row's lock
but not named by it (an incident's clocks) can still be read as they were
before the lock was granted, since one statement reads with one snapshot:
:func:`lock_then_read` locks first and reads in a second statement.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from django.db import connection, models

from .lookups import KeyedRead, one

M = TypeVar("M", bound=models.Model)

_MISSING = object()


def _matches(obj: models.Model, path: str) -> bool:
    """Whether the related objects cached on ``obj`` along ``path`` ("a__b") are
    the ones its foreign keys name."""
    current: Any = obj
    for name in path.split("__"):
        if current is None:
            return True
        field = current._meta.get_field(name)
        cached = field.get_cached_value(current, default=_MISSING)
        if cached is _MISSING:
            return True  # not read with the row: Django fetches it on access
        fk_value = getattr(current, field.attname)
        if (cached.pk if cached is not None else None) != fk_value:
            return False
        current = cached
    return True


def consistent(obj: models.Model, related: Iterable[str]) -> bool:
    return all(_matches(obj, path) for path in related)


def lock_one(queryset: models.QuerySet[M], pk: Any, related: Sequence[str]) -> M | None:
    """The row ``pk`` of ``queryset`` locked (``FOR UPDATE OF self``) with
    ``related`` read in the same statement, or None if there is no such row."""
    found = one(queryset.select_for_update(of=("self",)).select_related(*related).filter(pk=pk))
    if found is not None and consistent(found, related):
        return found
    # Waited on a concurrent change: lock without joins, then read what we hold.
    if not list(queryset.select_for_update(of=("self",)).filter(pk=pk).values_list("pk")):
        return None
    return one(queryset.select_related(*related).filter(pk=pk))


# lock_then_read()'s reads, compiled once per model, related rows and row count.
_READS: dict[tuple[Any, ...], KeyedRead[Any]] = {}


def _read_many(model: type[M], pks: Sequence[Any], related: Sequence[str]) -> list[M]:
    """The rows ``pks`` of ``model`` with ``related``, in pk order (a worker's
    chunk reads ten incidents with a dozen joins: Django compiled that statement
    anew for every chunk)."""
    pks = sorted(set(pks))
    if not pks or not all(isinstance(pk, int) for pk in pks):
        return list(
            model._default_manager.select_related(*related).filter(pk__in=pks).order_by("pk")
        )
    key = (model, tuple(related), len(pks))
    read = _READS.get(key)
    if read is None:
        read = _READS[key] = KeyedRead(
            lambda *keys: (
                model._default_manager.select_related(*related).filter(pk__in=keys).order_by("pk")
            ),
            keys=(int,) * len(pks),
        )
    return read.all(*pks)


def lock_then_read(
    model: type[M], pks: Iterable[Any], related: Sequence[str], *, skip_locked: bool = False
) -> list[M]:
    """The rows ``pks`` of ``model`` locked (``FOR UPDATE OF self``, in pk order),
    then read with ``related`` by a statement that starts after the locks are
    held, so rows guarded by them are read as their last holder left them.
    SQLite has no row locks (a write transaction holds the database): one read."""
    pks = list(pks)
    if not connection.features.has_select_for_update:
        return _read_many(model, pks, related)
    locked = list(
        model._default_manager.select_for_update(skip_locked=skip_locked, of=("self",))
        .filter(pk__in=pks)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return _read_many(model, locked, related) if locked else []
