"""Configuration read on every write, cached per process and never stale.

Every incident write used to read the same configuration again: severity bands,
the priority matrix, the 1st-line group, webhook endpoints, notification rules
and templates, escalation policies. Each process now keeps them in memory under
a *token*: the one row of ``core_configversion``, whose token database triggers
on the configuration tables replace with a random value on every INSERT,
UPDATE, DELETE (and TRUNCATE) in the same transaction as the change, whoever
makes it (a service, the admin, a data migration, ``QuerySet.update``, raw SQL,
another process). A lookup reads the token (one primary-key read) and reloads
when it differs from the token its values were loaded under, so a reader sees a
change as soon as its transaction could see the change itself:

- tokens are random and never reused, so values loaded inside a transaction
  that then rolled back are never mistaken for committed ones;
- the token is read before the values, so values are at least as new as their
  token (a change committed in between only causes a reload next time).

Within :func:`scope` (one service operation, one event's listeners) the token
is read once; outside, once per lookup. Modules declare the models they cache
with :func:`watch`; the triggers are (re)installed after every ``migrate`` and
``flush`` (``post_migrate``), because SQLite drops a table's triggers when a
migration rebuilds it. Without the version row (e.g. a flushed test database
before ``post_migrate``) nothing is cached.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import connection, connections, models

T = TypeVar("T")
ROW = 1
TABLE = "core_configversion"
TRIGGER = (
    "servicedesk_config"  # PostgreSQL's name; SQLite's are servicedesk_config_<table>_<action>
)

_watched: dict[str, type[models.Model]] = {}


@dataclass
class _Scope:
    token: str | None = None
    read: bool = False


_scope: ContextVar[_Scope | None] = ContextVar("servicedesk_confcache_scope", default=None)
# (token, {name: value}); replaced whole, so threads never see half a generation.
_cache: tuple[str, dict[str, Any]] | None = None


def watch(*watched: type[models.Model]) -> None:
    """Declare models whose rows cached values are computed from (with the
    auto-created tables of their many-to-many fields)."""
    for model in watched:
        _watched[model._meta.db_table] = model
        for field in model._meta.local_many_to_many:
            through: Any = field.remote_field.through
            if through is not None and through._meta.auto_created:
                _watched[through._meta.db_table] = through


def watched_tables() -> list[str]:
    return sorted(_watched)


def _read_token() -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT token FROM core_configversion WHERE id = %s", [ROW])
        row = cursor.fetchone()
    return str(row[0]) if row else None


def token() -> str | None:
    """The configuration token (once per :func:`scope`)."""
    current = _scope.get()
    if current is None:
        return _read_token()
    if not current.read:
        current.token, current.read = _read_token(), True
    return current.token


@contextmanager
def scope() -> Iterator[None]:
    """Read the token at most once inside (nested scopes share the outer one). Use
    around work that reads configuration but never writes it."""
    if _scope.get() is not None:
        yield
        return
    reset = _scope.set(_Scope())
    try:
        yield
    finally:
        _scope.reset(reset)


def cached(name: str, load: Callable[[], T]) -> T:
    """``load()``'s value, computed once per configuration token. The value is
    shared by every caller in the process: never mutate it (hand out copies of
    model instances)."""
    global _cache
    current = token()
    if current is None:
        return load()
    generation = _cache
    if generation is None or generation[0] != current:
        generation = (current, {})
        _cache = generation
    values = generation[1]
    if name not in values:
        values[name] = load()
    return values[name]


def clear() -> None:
    """Forget every cached value in this process (tests; not needed for correctness)."""
    global _cache
    _cache = None


# ---- the triggers -------------------------------------------------------------------------

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION servicedesk_config_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE core_configversion SET token = md5(random()::text || clock_timestamp()::text)
     WHERE id = 1;
    RETURN NULL;
END
$$
"""
_PG_TRIGGER = (
    'CREATE TRIGGER servicedesk_config AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "{table}" '
    "FOR EACH STATEMENT EXECUTE FUNCTION servicedesk_config_changed()"
)
_SQLITE_TRIGGER = (
    'CREATE TRIGGER IF NOT EXISTS "servicedesk_config_{table}_{action}" AFTER {action} ON "{table}" '
    "BEGIN UPDATE core_configversion SET token = lower(hex(randomblob(16))) WHERE id = 1; END"
)


def install(using: str = "default") -> list[str]:
    """Create the version row and the triggers on every watched table that exists;
    returns the tables. Idempotent (runs after every migrate and flush)."""
    conn = connections[using]
    with conn.cursor() as cursor:
        existing = set(conn.introspection.table_names(cursor))
        if TABLE not in existing:
            return []
        cursor.execute("SELECT 1 FROM core_configversion WHERE id = %s", [ROW])
        if cursor.fetchone() is None:
            cursor.execute(
                "INSERT INTO core_configversion (id, token) VALUES (%s, %s)",
                [ROW, secrets.token_hex(16)],
            )
        # Table names come from the models' metadata, never from input.
        tables = [t for t in watched_tables() if t in existing]
        if conn.vendor == "postgresql":
            cursor.execute(_PG_FUNCTION)
            for table in tables:
                cursor.execute(f'DROP TRIGGER IF EXISTS servicedesk_config ON "{table}"')
                cursor.execute(_PG_TRIGGER.format(table=table))
        elif conn.vendor == "sqlite":
            for table in tables:
                for action in ("INSERT", "UPDATE", "DELETE"):
                    cursor.execute(_SQLITE_TRIGGER.format(table=table, action=action))
        else:  # pragma: no cover - other databases are not supported by the product
            return []
        # Whatever migrations changed before the triggers existed is a change too.
        cursor.execute(
            "UPDATE core_configversion SET token = %s WHERE id = %s", [secrets.token_hex(16), ROW]
        )
    clear()
    return tables


def installed(using: str = "default") -> list[str]:
    """The watched tables that have the trigger (for health checks and tests)."""
    conn = connections[using]
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            cursor.execute(
                "SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE t.tgname = %s AND NOT t.tgisinternal",
                [TRIGGER],
            )
            found = {row[0] for row in cursor.fetchall()}
        else:
            cursor.execute(
                "SELECT DISTINCT tbl_name FROM sqlite_master WHERE type = 'trigger' AND name LIKE %s",
                ["servicedesk_config_%"],
            )
            found = {row[0] for row in cursor.fetchall()}
    return [t for t in watched_tables() if t in found]


def on_post_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    install(using)
