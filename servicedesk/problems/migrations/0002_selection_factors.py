"""The default selection factors (weights editable in the admin)."""

from django.db import migrations

DEFAULTS = {
    "linked_incidents": (3.0, 10.0),
    "severity": (3.0, 1.0),
    "users_affected": (2.0, 100.0),
    "business_impact": (2.0, 5.0),
    "cost": (1.0, 100000.0),
}


def seed(apps, schema_editor):
    SelectionFactor = apps.get_model("problems", "SelectionFactor")
    for key, (weight, cap) in DEFAULTS.items():
        SelectionFactor.objects.get_or_create(key=key, defaults={"weight": weight, "cap": cap})


class Migration(migrations.Migration):
    dependencies = [("problems", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
