"""Reading one row by a key: no ORDER BY (Django compiles one by hashing every
selected column, which cost as much as the rest of a detail request)."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from django.db import connection, connections
from django.db.models.sql.compiler import SQLCompiler
from django.test.utils import CaptureQueriesContext

from servicedesk.accounts.models import SupportGroup, User
from servicedesk.accounts.services import authenticate_token, do_create_token
from servicedesk.core.errors import FieldError, NotFound
from servicedesk.core.lookups import KeyedRead, one, resolve
from servicedesk.incidents import selectors, services
from servicedesk.incidents.models import Incident
from servicedesk.notifications import services as notifications
from servicedesk.notifications.models import Watcher
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


# ---- KeyedRead: compiled once, read like the ORM ---------------------------------------


def _fresh(read: KeyedRead[Any]) -> None:
    """Forget ``read``'s compiled query on this connection (as a new process would)."""
    for single in (True, False):
        connections["default"].__dict__.pop(f"{read._attr}_{single}", None)


def _compilations() -> Any:
    return mock.patch.object(SQLCompiler, "as_sql", autospec=True, side_effect=SQLCompiler.as_sql)


def test_a_keyed_read_compiles_once_and_reads_what_the_orm_reads(org: Org) -> None:
    made = services.do_create_incident(
        actor=org.desk_agent, title="Printer jams", reporter=org.reporter
    )
    read: KeyedRead[Incident] = KeyedRead(
        lambda pk: Incident.objects.select_related(*selectors.LIST_RELATED).filter(pk=pk)
    )
    _fresh(read)
    with _compilations() as compiled:
        read(made.pk)
        with CaptureQueriesContext(connection) as captured:
            found = read(made.pk)
            # The references came with the row: reading them queries nothing.
            assert found is not None
            assert found.reporter == org.reporter and found.assigned_group == org.service_desk
            assert found.owner_group == org.service_desk and found.technology is None
    assert compiled.call_count == 1
    assert len(captured.captured_queries) == 1
    orm = Incident.objects.get(pk=made.pk)
    assert [getattr(found, f.attname) for f in Incident._meta.concrete_fields] == [
        getattr(orm, f.attname) for f in Incident._meta.concrete_fields
    ]
    assert found.opened_at.tzinfo is not None  # converters ran (SQLite stores text)
    assert found._state.adding is False and found._state.db == "default"
    assert read(made.pk + 1000) is None


def test_keys_go_where_the_placeholders_were(org: Org) -> None:
    mine = services.do_create_incident(actor=org.reporter, title="My laptop")
    theirs = services.do_create_incident(actor=org.reporter2, title="Their laptop")
    for user, pk, visible in [
        (org.reporter, mine.pk, True),
        (org.reporter, theirs.pk, False),
        (org.reporter2, theirs.pk, True),
        (org.desk_agent, mine.pk, True),
    ]:
        for related in (True, False):
            if visible:
                assert selectors.get_incident(user, pk, related=related).pk == pk
            else:
                with pytest.raises(NotFound):
                    selectors.get_incident(user, pk, related=related)


def test_a_text_key(org: Org) -> None:
    _, raw = do_create_token(user=org.desk_agent, name="cli")
    assert authenticate_token(raw) == org.desk_agent
    assert authenticate_token(raw[:-1] + ("x" if raw[-1] != "x" else "y")) is None


def test_a_query_whose_keys_cannot_be_placed_is_read_by_the_orm(org: Org) -> None:
    made = services.do_create_incident(actor=org.desk_agent, title="Printer jams")
    # The key reaches the SQL changed: no placeholder to replace, so no compiled query.
    shifted: KeyedRead[Incident] = KeyedRead(lambda pk: Incident.objects.filter(pk=pk + 1))
    _fresh(shifted)
    with _compilations() as compiled:
        assert shifted(made.pk - 1) == made
        assert shifted(made.pk - 1) == made
    assert compiled.call_count == 3  # the attempt, then the ORM each time


def test_resolve_keeps_its_conditions(org: Org) -> None:
    org.reporter2.is_active = False
    org.reporter2.save(update_fields=["is_active"])
    assert resolve(User, org.reporter.pk, "reporter", is_active=True) == org.reporter
    with pytest.raises(FieldError) as error:
        resolve(User, org.reporter2.pk, "reporter", is_active=True)
    assert error.value.loc == ["body", "reporter"]
    assert resolve(User, org.reporter2.pk, "reporter") == org.reporter2
    group = resolve(SupportGroup, org.service_desk.pk, "group", related=("manager",))
    assert group is not None and group.manager == org.service_desk.manager


def test_all_reads_every_row_in_order(org: Org) -> None:
    group = org.service_desk
    members = sorted([m for m in group.members.all() if m.is_active], key=lambda u: u.pk)
    assert len(members) >= 2
    read: KeyedRead[User] = KeyedRead(
        lambda group_id: User.objects.filter(support_groups=group_id, is_active=True).order_by(
            "-id"
        )
    )
    _fresh(read)
    with _compilations() as compiled:
        assert read.all(group.pk) == members[::-1]
        members[0].is_active = False
        members[0].save(update_fields=["is_active"])
        assert read.all(group.pk) == members[:0:-1]
        assert read.all(group.pk + 1000) == []
        assert read(group.pk) == members[-1]
    assert compiled.call_count == 2  # every row, and the first one


def test_keys_of_big_integer_columns_are_placed_too(org: Org) -> None:
    # PostgreSQL's driver wraps a big integer parameter (psycopg's Int8): the
    # placeholder must still be found, and the key wrapped the same way.
    incident = services.do_create_incident(actor=org.desk_agent, title="Printer jams")
    for user in (org.desk_manager, org.desk_agent2):
        notifications.do_watch(actor=user, incident=incident)
    read: KeyedRead[Watcher] = KeyedRead(
        lambda subject_type, subject_id: Watcher.objects.filter(
            subject_type=subject_type, subject_id=subject_id
        ).order_by("id"),
        keys=(str, int),
    )
    _fresh(read)
    with _compilations() as compiled:
        first = [w.user_id for w in read.all("incident", incident.pk)]
        second = [w.user_id for w in read.all("incident", incident.pk)]
        assert read.all("problem", incident.pk) == []
    assert first == second == [org.desk_manager.pk, org.desk_agent2.pk]
    assert compiled.call_count == 1
