"""Reading records by key: ids from requests with field-level errors (``resolve``),
one row without an ordering (``one``), and fixed-shape reads compiled once
(``KeyedRead``)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators

from .errors import FieldError

M = TypeVar("M", bound=Model)


def one(queryset: QuerySet[M]) -> M | None:
    """The row of a query that matches at most one (a primary or unique key), or
    None. Unlike ``first()`` it adds no ORDER BY: Django compiles an ordering by
    hashing every selected column, which for a row read with its related rows
    cost more than the rest of the query (half of an incident's detail request)."""
    return next(iter(queryset[:1]), None)


def resolve(
    model: type[M],
    pk: int | None,
    field: str | list[str],
    *,
    related: tuple[str, ...] = (),
    **conditions: Any,
) -> M | None:
    """The record ``pk`` of ``model`` (None stays None); 422 naming ``field`` when absent.
    ``related``: foreign keys to load with it (select_related)."""
    if pk is None:
        return None
    obj = _reader(model, related, conditions)(pk)
    if obj is None:
        raise FieldError(field, f"no {model._meta.verbose_name} with id {pk}")
    return obj


# ---- fixed-shape reads by key, compiled once ----------------------------------------
#
# Reads of one row by key whose query never changes shape, compiled once.
#
# Django builds and compiles a query every time it is evaluated. For a row read
# with its related rows that costs more than the database does: an incident with
# its ten references took 1.9 ms of CPU to read, 1.2 ms of it compiling the same
# SQL again. A :class:`KeyedRead` compiles its query once per database
# connection, with placeholder keys, remembers where the keys go among the
# parameters, and afterwards only executes the SQL and builds the instance the
# way Django's own iterable does (related rows, converters included).
#
# Only for queries whose SQL depends on nothing but the keys: the builder gets
# the keys as arguments and must not read anything else that varies (the user,
# the time, settings). If the placeholders cannot be found in the compiled
# parameters exactly once each, the read falls back to the ORM.

# Placeholder keys: values no real key takes, distinct per position.
_INT_BASE = -7_300_000_001
_UNSET: Any = object()
# Names for the compiled queries on a connection: unique for the process's life
# (an id() could be reused by a later read after an earlier one is collected).
_NAMES = itertools.count()


def _placeholder(kind: type, position: int) -> Any:
    if kind is int:
        return _INT_BASE - position
    if kind is str:
        return f"\x00servicedesk-key-{position}\x00"
    raise TypeError(f"KeyedRead keys are int or str, not {kind.__name__}")


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple[Any, ...]
    slots: tuple[int, ...]  # where each key goes among ``params``
    model: type[Model]
    init_list: tuple[str, ...]
    fields: slice
    populators: tuple[Any, ...]
    converters: tuple[tuple[int, tuple[Callable[..., Any], ...], Any], ...]

    def instance(self, row: Sequence[Any], alias: str, connection: Any) -> Any:
        """A row as Django's ModelIterable makes it: converted, with its related rows."""
        if self.converters:
            row = list(row)
            for position, functions, expression in self.converters:
                value = row[position]
                for convert in functions:
                    value = convert(value, expression, connection)
                row[position] = value
        obj = self.model.from_db(alias, self.init_list, row[self.fields])
        for populator in self.populators:
            populator.populate(row, obj)
        return obj


class KeyedRead(Generic[M]):
    """``read(*keys)``: the row ``build(*keys)`` matches (at most one), or None;
    ``read.all(*keys)``: every row it matches, in its order."""

    def __init__(self, build: Callable[..., QuerySet[M]], keys: Sequence[type] = (int,)):
        self.build = build
        self.kinds = tuple(keys)
        self._attr = f"_servicedesk_prepared_{next(_NAMES)}"
        self._alias: str | None = None  # the database its queries read (routers decide)

    def __call__(self, *keys: Any) -> M | None:
        found = self._read(keys, one=True)
        return found[0] if found else None

    def all(self, *keys: Any) -> list[M]:
        return self._read(keys, one=False)

    def _read(self, keys: tuple[Any, ...], *, one: bool) -> list[M]:
        if len(keys) != len(self.kinds):
            raise TypeError(f"expected {len(self.kinds)} keys, got {len(keys)}")
        if any(
            key is None or not isinstance(key, kind)
            for key, kind in zip(keys, self.kinds, strict=True)
        ):
            return self._by_orm(keys, one=one)
        if self._alias is None:
            self._alias = self.build(*keys).db
        alias = self._alias
        connection = connections[alias]
        # Compiled per connection object: its converters are bound to it, and a
        # connection belongs to one thread.
        attr = f"{self._attr}_{one}"
        compiled = connection.__dict__.get(attr, _UNSET)
        if compiled is _UNSET:
            compiled = self._compile(alias, one=one)
            connection.__dict__[attr] = compiled
        if compiled is None:
            return self._by_orm(keys, one=one)
        params = list(compiled.params)
        for slot, key in zip(compiled.slots, keys, strict=True):
            params[slot] = type(params[slot])(key)  # wrapped as the placeholder was
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        return [compiled.instance(row, alias, connection) for row in rows]

    def _by_orm(self, keys: tuple[Any, ...], *, one: bool) -> list[M]:
        queryset = self.build(*keys)
        return list(queryset[:1] if one else queryset)

    def _compile(self, alias: str, *, one: bool) -> _Compiled | None:
        placeholders = [_placeholder(kind, i) for i, kind in enumerate(self.kinds)]
        queryset = self.build(*placeholders)
        if one:
            queryset = queryset[:1]
        compiler = queryset.query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        slots = []
        for placeholder in placeholders:
            # isinstance: a backend may wrap a key (psycopg's Int8 for a big integer).
            found = [
                i
                for i, p in enumerate(params)
                if isinstance(p, type(placeholder)) and not isinstance(p, bool) and p == placeholder
            ]
            if len(found) != 1:
                return None
            slots.append(found[0])
        if compiler.annotation_col_map or queryset._known_related_objects:  # type: ignore[attr-defined]
            return None
        select, klass_info = compiler.select, compiler.klass_info
        select_fields = klass_info["select_fields"]
        start, end = select_fields[0], select_fields[-1] + 1
        converters = compiler.get_converters([s[0] for s in select[0 : compiler.col_count]])
        return _Compiled(
            sql=sql,
            params=tuple(params),
            slots=tuple(slots),
            model=klass_info["model"],
            init_list=tuple(f[0].target.attname for f in select[start:end]),
            fields=slice(start, end),
            # django-stubs describes Django 6, whose signature adds fetch_mode.
            populators=tuple(get_related_populators(klass_info, select, alias)),  # type: ignore[call-arg]
            converters=tuple(
                (position, tuple(functions), expression)
                for position, (functions, expression) in converters.items()
            ),
        )


# resolve()'s reads, one per model, related rows and constant conditions.
_READERS: dict[tuple[Any, ...], KeyedRead[Any]] = {}


def _reader(
    model: type[M], related: tuple[str, ...], conditions: dict[str, Any]
) -> Callable[[Any], M | None]:
    def build(pk: Any) -> QuerySet[M]:
        qs = model._default_manager.filter(pk=pk, **conditions)
        return qs.select_related(*related) if related else qs

    if any(type(value) not in (bool, int, str) for value in conditions.values()):
        return lambda pk: one(build(pk))  # e.g. a record as a condition: not a constant
    key = (model, related, tuple(sorted(conditions.items())))
    if key not in _READERS:
        _READERS[key] = KeyedRead(build)
    return _READERS[key]
