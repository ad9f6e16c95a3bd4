"""Demo data of reports: a weekly report e-mailed to the managers.

The demo incidents get their report facts from the listener as the stories
are played through the services; nothing to add for them.
"""

from __future__ import annotations

from typing import Any

from .models import ScheduledReport
from .services import do_create_schedule

SCHEDULES = [
    ("Weekly: incidents transferred and resolved per level", "incidents-by-level", "weekly"),
    ("Monthly: mean time to restore service", "mttr", "monthly"),
]


def load(org: Any) -> None:
    """Idempotent: a schedule that exists by name is left as it is."""
    recipients = [
        user.email
        for key in ("cio", "ops.head")
        if (user := org.users.get(key)) is not None and user.email
    ] or ["managers@example.com"]
    for name, report, frequency in SCHEDULES:
        if not ScheduledReport.objects.filter(name=name).exists():
            do_create_schedule(
                actor=None, name=name, report=report, frequency=frequency,
                format="xlsx", recipients=recipients,
            )  # fmt: skip
