"""Period indexes of the facts, per database.

Reports aggregate a period of facts by their resolution or registration time.
On PostgreSQL the index carries the aggregated columns (INCLUDE), so a narrow
period is answered from the index and a wide one by a parallel sequential
scan; a plain index beside it only tempts the planner into visiting a million
heap rows in index order (measured: docs/performance/reports.md). SQLite has
no INCLUDE: it gets plain indexes.
"""

from django.db import migrations, models

INDEXES = {
    "reports_gfact_resolved": (
        "reports_incidentgroupfact", "resolved_at",
        "group_id, support_level, seconds, business_seconds, incident_id, severity, "
        "service_id, technology_id, user_group_id",
    ),
    "reports_fact_resolved": (
        "reports_incidentfact", "resolved_at",
        "severity, service_id, technology_id, user_group_id, reached_l1, reached_l2, "
        "reached_l3, resolved_level, resolved_group_id, restore_seconds, "
        "restore_business_seconds, sla_paused_seconds, in_target, resolve_by, satisfaction, "
        "notified_for",
    ),
    "reports_fact_opened": (
        "reports_incidentfact", "opened_at",
        "severity, service_id, technology_id, user_group_id, reached_l1, reached_l2, "
        "reached_l3, is_open, resolved_at",
    ),
}


def create(apps, schema_editor):
    covering = schema_editor.connection.vendor == "postgresql"
    for name, (table, key, include) in INDEXES.items():
        extra = f" INCLUDE ({include})" if covering else ""
        schema_editor.execute(f"CREATE INDEX {name} ON {table} ({key}){extra}")


def drop(apps, schema_editor):
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("reports", "0001_initial")]
    operations = [
        migrations.RemoveIndex(model_name="incidentfact", name="reports_fact_opened"),
        migrations.RemoveIndex(model_name="incidentfact", name="reports_fact_resolved"),
        migrations.RemoveIndex(model_name="incidentgroupfact", name="reports_gfact_resolved"),
        migrations.RunPython(create, drop),
    ]
