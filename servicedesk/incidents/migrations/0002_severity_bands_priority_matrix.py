"""Ship SPEC Table 4's severity bands and the ITIL impact x urgency priority matrix."""

from django.db import migrations

BANDS = [
    (1, "More than 50 users cannot work", 50, "50 or more users cannot perform business transactions (the source leaves exactly 50 open; we count it as 1)."),
    (2, "10 to 49 users cannot work", 10, "10 to 49 users cannot perform business transactions."),
    (3, "1 to 9 users cannot work", 1, "1 to 9 users cannot perform business transactions."),
    (4, "No user blocked yet", 0, "The incident may cause an interruption but blocks no user yet, e.g. a monitoring warning."),
]
# impact (1 high .. 3 low) x urgency (1 high .. 3 low) -> priority 1..5
MATRIX = {(1, 1): 1, (1, 2): 2, (2, 1): 2, (1, 3): 3, (2, 2): 3, (3, 1): 3, (2, 3): 4, (3, 2): 4, (3, 3): 5}


def forwards(apps, schema_editor):
    SeverityBand = apps.get_model("incidents", "SeverityBand")
    PriorityRule = apps.get_model("incidents", "PriorityRule")
    for severity, name, minimum, description in BANDS:
        SeverityBand.objects.get_or_create(
            severity=severity,
            defaults={"name": name, "min_affected_users": minimum, "description": description},
        )
    for (impact, urgency), priority in MATRIX.items():
        PriorityRule.objects.get_or_create(impact=impact, urgency=urgency, defaults={"priority": priority})


class Migration(migrations.Migration):
    dependencies = [("incidents", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
