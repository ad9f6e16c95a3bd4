"""The matching index on each database (issue 4): a narrow side table
``knownerrors_search`` keyed by the known error's id, written by
``knownerrors.search`` next to the stemmed ``search_text`` column.

PostgreSQL: a tsvector over the stems ('simple' configuration: the stems are
already language-processed; positions stripped: no phrase queries) with a GIN
index. The table is narrow on purpose: ranking an OR of common words reads
every matching row, and known-error rows are wide. SQLite: an FTS5 table
(created only on SQLite). Django's model state knows neither: they are
queried with SQL in ``search.py``.
"""

from django.db import migrations

POSTGRESQL_FORWARD = [
    "CREATE TABLE knownerrors_search ("
    # No foreign key: test databases are flushed with TRUNCATE, and known
    # errors are never deleted (closed instead); the search joins by id.
    " id bigint PRIMARY KEY,"
    " portal boolean NOT NULL DEFAULT false,"
    " search_vector tsvector NOT NULL)",
    "CREATE INDEX knownerrors_search_gin ON knownerrors_search USING gin (search_vector)",
    "INSERT INTO knownerrors_search (id, portal, search_vector) "
    "SELECT id, audience = 'portal', strip(to_tsvector('simple', search_text)) "
    "FROM knownerrors_knownerror WHERE search_text <> ''",
]
POSTGRESQL_BACKWARD = ["DROP TABLE IF EXISTS knownerrors_search"]
SQLITE_FORWARD = [
    # remove_diacritics 0: "й" must not become "и"; the stems are lower case already.
    "CREATE VIRTUAL TABLE knownerrors_search USING fts5("
    "search_text, portal UNINDEXED, tokenize = 'unicode61 remove_diacritics 0')",
    "INSERT INTO knownerrors_search (rowid, search_text, portal) "
    "SELECT id, search_text, audience = 'portal' FROM knownerrors_knownerror WHERE search_text != ''",
]
SQLITE_BACKWARD = ["DROP TABLE IF EXISTS knownerrors_search"]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for sql in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("knownerrors", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": POSTGRESQL_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": POSTGRESQL_BACKWARD, "sqlite": SQLITE_BACKWARD}),
        )
    ]
