"""Install the default rule set and the approved English and Russian templates."""

from django.db import migrations


def install(apps, schema_editor):
    from servicedesk.notifications import defaults

    defaults.install(
        {
            "NotificationTemplate": apps.get_model("notifications", "NotificationTemplate"),
            "NotificationRule": apps.get_model("notifications", "NotificationRule"),
            "RuleRecipient": apps.get_model("notifications", "RuleRecipient"),
        }
    )


def remove(apps, schema_editor):
    apps.get_model("notifications", "NotificationRule").objects.filter(shipped=True).delete()
    apps.get_model("notifications", "NotificationTemplate").objects.filter(shipped=True).delete()


class Migration(migrations.Migration):
    dependencies = [("notifications", "0001_initial")]

    operations = [migrations.RunPython(install, remove)]
