"""Ship SPEC Table 4 as the default escalation matrix, with its default
interpretation: each "after" counts from the previous step (per_step), in
calendar time (the 24x7 calendar). Severity 4 (blocks nobody yet) has its own,
longer targets. The respond targets are ours: the source gives none.
"""

from django.db import migrations

MIN = 60
HOUR = 3600

# severity: (name, respond_within, resolve_within, [(kind, level, after), ...])
MATRIX = {
    1: ("Severity 1: more than 50 users cannot work", 15 * MIN, 2 * HOUR, [
        ("assign", 1, 0), ("assign", 2, 0), ("assign", 3, 30 * MIN),
        ("notify_manager", None, 30 * MIN), ("emergency_meeting", None, 0),
    ]),
    2: ("Severity 2: 10 to 49 users cannot work", 30 * MIN, 4 * HOUR, [
        ("assign", 1, 0), ("assign", 2, 0), ("assign", 3, 60 * MIN),
        ("notify_manager", None, 60 * MIN), ("emergency_meeting", None, 0),
    ]),
    3: ("Severity 3: 1 to 9 users cannot work", 60 * MIN, 8 * HOUR, [
        ("assign", 1, 0), ("assign", 2, 30 * MIN), ("assign", 3, 120 * MIN),
        ("notify_manager", None, 120 * MIN),
    ]),
    4: ("Severity 4: no user blocked yet", 4 * HOUR, 24 * HOUR, [
        ("assign", 1, 0), ("assign", 2, 4 * HOUR), ("assign", 3, 8 * HOUR),
    ]),
}

OFFICE = {day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}


def forwards(apps, schema_editor):
    BusinessCalendar = apps.get_model("escalation", "BusinessCalendar")
    EscalationPolicy = apps.get_model("escalation", "EscalationPolicy")
    PolicyStep = apps.get_model("escalation", "PolicyStep")
    always, _ = BusinessCalendar.objects.get_or_create(
        name="24x7",
        defaults={"kind": "24x7", "time_zone": "UTC",
                  "description": "Calendar time: every second counts (the default of Table 4)."},
    )
    BusinessCalendar.objects.get_or_create(
        name="Business hours, Moscow",
        defaults={"kind": "business_hours", "time_zone": "Europe/Moscow", "hours": OFFICE,
                  "country": "RU",
                  "description": "Monday to Friday, 09:00-18:00 Moscow time, without Russian public holidays."},
    )
    for severity, (name, respond, resolve, steps) in MATRIX.items():
        if EscalationPolicy.objects.filter(severity=severity, scope="all", active=True).exists():
            continue
        policy = EscalationPolicy.objects.create(
            name=name, severity=severity, scope="all", calendar=always, offsets="per_step",
            respond_within=respond, resolve_within=resolve,
            description="SPEC Table 4 (default interpretation: each step counts from the previous one).",
        )
        for position, (kind, level, after) in enumerate(steps, start=1):
            PolicyStep.objects.create(
                policy=policy, position=position, kind=kind, support_level=level, after=after
            )


class Migration(migrations.Migration):
    dependencies = [("escalation", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
