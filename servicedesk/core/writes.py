"""Write rows with SQL compiled once per model and database connection.

``Model.save()`` builds a query, compiles it and runs the save machinery for
every row; the hot paths (timeline events, assignment spans, outbox messages,
action requests, escalation steps, the incident card and its clocks, the
worker's due items) write several rows per change, and that machinery cost
more than the statements.

:func:`insert` does what ``obj.save(force_insert=True)`` does for a plain new
row (fields' ``pre_save`` such as ``auto_now_add``, their database
preparation, the returned primary key), :func:`insert_many` the same for
several rows in one INSERT; :func:`update` what ``obj.save(update_fields=...)``
does (``pre_save`` such as ``auto_now``, an error when the row is gone), and
:func:`update_each` a conditional update of several rows (no signals, as
``QuerySet.update``). ``insert``, ``insert_many`` and ``update`` fall back to
the ORM where it could differ: a model with ``pre_save``/``post_save``
receivers or a parent model, a value that is an expression, a field with its
own SQL placeholder; the inserts also for a row whose automatic primary key
is already set (or whose other primary key is not) or a database that cannot
return the new keys from the INSERT.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import DatabaseError, connections, router
from django.db.models import Field, Model
from django.db.models.signals import post_save, pre_save

M = TypeVar("M", bound=Model)

_CACHE = "_servicedesk_writes"


@dataclass(frozen=True)
class _CompiledInsert:
    sql: str
    fields: tuple[Field[Any, Any], ...]
    returning: tuple[Field[Any, Any], ...]


def _plain(model: type[Model]) -> bool:
    meta = model._meta
    return not (
        meta.parents
        or meta.proxy
        or pre_save.has_listeners(model)
        or post_save.has_listeners(model)
    )


def insert(obj: M) -> M:
    """``obj.save(force_insert=True)`` for a new row; returns ``obj`` (saved)."""
    return insert_many([obj])[0]


def insert_many(objs: Sequence[M]) -> list[M]:
    """New rows of one model in one INSERT (``bulk_create``, or ``save`` for one),
    with their keys set; the statement is compiled once per model and count."""
    objs = list(objs)
    if not objs:
        return objs
    model = type(objs[0])
    alias = router.db_for_write(model, instance=objs[0])
    connection = connections[alias]
    compiled = None
    # The database assigns an automatic key (returned by the INSERT); any other
    # primary key (e.g. a one-to-one parent) is the caller's to set.
    keyed_by_db = model._meta.auto_field is not None
    if _plain(model) and all((obj.pk is None) == keyed_by_db for obj in objs):
        cache: dict[Any, _CompiledInsert | None] = connection.__dict__.setdefault(_CACHE, {})
        key = (model, "insert", len(objs))
        if key not in cache:
            cache[key] = _compile_insert(model, len(objs), alias)
        compiled = cache[key]
    values = (
        [] if compiled is None else [f.pre_save(o, True) for o in objs for f in compiled.fields]
    )
    if compiled is None or any(hasattr(value, "resolve_expression") for value in values):
        if len(objs) == 1:
            objs[0].save(force_insert=True, using=alias)
            return objs
        return model._base_manager.using(alias).bulk_create(objs)
    width = len(compiled.fields)
    params = [
        compiled.fields[i % width].get_db_prep_save(value, connection)
        for i, value in enumerate(values)
    ]
    with connection.cursor() as cursor:
        cursor.execute(compiled.sql, params)
        rows = cursor.fetchall() if compiled.returning else [()] * len(objs)
    for obj, row in zip(objs, rows, strict=True):
        for field, value in zip(compiled.returning, row, strict=True):
            for convert in field.get_db_converters(connection):
                value = convert(value, field, connection)
            setattr(obj, field.attname, value)
        obj._state.adding = False
        obj._state.db = alias
    return objs


def _compile_insert(model: type[Model], count: int, alias: str) -> _CompiledInsert | None:
    meta = model._meta
    # As Model._save_table: without the primary key when the database assigns it.
    fields = tuple(
        f for f in meta.local_concrete_fields if not f.generated and f is not meta.auto_field
    )
    if any(hasattr(f, "get_placeholder") for f in fields):
        return None
    connection = connections[alias]
    quote = connection.ops.quote_name
    returning = tuple(meta.db_returning_fields)
    can_return = (
        connection.features.can_return_columns_from_insert
        if count == 1
        else connection.features.can_return_rows_from_bulk_insert
    )
    if returning and not can_return:
        return None
    table = quote(meta.db_table)
    returning_sql = (
        " RETURNING " + ", ".join(f"{table}.{quote(str(f.column))}" for f in returning)
        if returning
        else ""
    )
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    # Identifiers from the model's metadata, quoted; every value is a parameter.
    sql = (
        f"INSERT INTO {table} ({', '.join(quote(str(f.column)) for f in fields)}) "  # noqa: S608
        f"VALUES {', '.join([row] * count)}{returning_sql}"
    )
    return _CompiledInsert(sql=sql, fields=fields, returning=returning)


@dataclass(frozen=True)
class _CompiledUpdate:
    sql: str
    fields: tuple[Field[Any, Any], ...]


def update(obj: Model, *names: str) -> None:
    """``obj.save(update_fields=names)``."""
    model = type(obj)
    alias = obj._state.db or router.db_for_write(model, instance=obj)
    connection = connections[alias]
    cache: dict[tuple[Any, ...], _CompiledUpdate | None] = connection.__dict__.setdefault(
        _CACHE, {}
    )
    key = (model, names)
    if key not in cache:
        cache[key] = _compile_update(model, names, alias) if _plain(model) else None
    compiled = cache[key]
    values = [] if compiled is None else [f.pre_save(obj, False) for f in compiled.fields]
    if compiled is None or obj.pk is None or any(hasattr(v, "resolve_expression") for v in values):
        obj.save(update_fields=names, using=alias)
        return
    params = [
        field.get_db_prep_save(value, connection)
        for field, value in zip(compiled.fields, values, strict=True)
    ]
    params.append(model._meta.pk.get_db_prep_value(obj.pk, connection))
    with connection.cursor() as cursor:
        cursor.execute(compiled.sql, params)
        if cursor.rowcount == 0:
            raise DatabaseError("Save with update_fields did not affect any rows.")
    obj._state.db = alias


def _plain_fields(model: type[Model], names: Sequence[str]) -> tuple[Field[Any, Any], ...] | None:
    """The concrete, non-key fields ``names`` name (by name or attname) that take a
    plain ``%s``; None if any does not."""
    by_name = {n: f for f in model._meta.concrete_fields for n in (f.name, f.attname)}
    fields = tuple(by_name.get(name) for name in names)
    plain = tuple(
        f
        for f in fields
        if isinstance(f, Field)
        and not f.primary_key
        and not f.generated
        and not hasattr(f, "get_placeholder")
    )
    return plain if names and len(plain) == len(fields) else None


def _update_sql(
    model: type[Model],
    sets: Sequence[Field[Any, Any]],
    where: Sequence[Field[Any, Any]],
    alias: str,
) -> str:
    quote = connections[alias].ops.quote_name
    pk = model._meta.pk
    assignments = ", ".join(f"{quote(str(f.column))} = %s" for f in sets)
    conditions = " AND ".join(f"{quote(str(f.column))} = %s" for f in (pk, *where))
    # Identifiers from the model's metadata, quoted; every value is a parameter.
    return f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE {conditions}"  # noqa: S608


def _compile_update(
    model: type[Model], names: tuple[str, ...], alias: str
) -> _CompiledUpdate | None:
    fields = _plain_fields(model, names)
    if fields is None:
        return None
    return _CompiledUpdate(sql=_update_sql(model, fields, (), alias), fields=fields)


def update_each(
    objs: Sequence[M], names: Sequence[str], conditions: Sequence[dict[str, Any]]
) -> int:
    """Write the fields ``names`` of each of ``objs`` (with their ``pre_save``, such
    as ``auto_now``) where its row still has the column values ``conditions[i]``
    (the same columns for every row): one UPDATE statement run for all of them
    (``executemany``). Like ``QuerySet.update`` it sends no signals. Returns how
    many rows changed; a row whose conditions no longer hold is left alone."""
    if not objs:
        return 0
    model = type(objs[0])
    alias = router.db_for_write(model, instance=objs[0])
    connection = connections[alias]
    columns = tuple(conditions[0])
    fields, where = _plain_fields(model, names), _plain_fields(model, columns)
    if fields is None or where is None:
        raise TypeError(f"update_each writes and tests plain columns: {[*names, *columns]}")
    pk = model._meta.pk
    params = []
    for obj, condition in zip(objs, conditions, strict=True):
        row = [f.get_db_prep_save(f.pre_save(obj, False), connection) for f in fields]
        row.append(pk.get_db_prep_value(obj.pk, connection))
        row += [
            f.get_db_prep_value(condition[c], connection)
            for f, c in zip(where, columns, strict=True)
        ]
        params.append(row)
    with connection.cursor() as cursor:
        cursor.executemany(_update_sql(model, fields, where, alias), params)
        return max(cursor.rowcount, 0)
