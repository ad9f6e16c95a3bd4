"""Demo on-call schedules: every demo support group takes weekly turns (Monday
09:00 Moscow time) with a secondary layer; the service desk rotates daily."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

from django.db import transaction

from servicedesk.core import clock
from servicedesk.escalation.calendars import zone

from . import services
from .models import OnCallSchedule

TIME_ZONE = "Europe/Moscow"


def load(org: Any) -> None:
    today = clock.now().astimezone(zone(TIME_ZONE)).date()
    monday = today - timedelta(days=today.weekday() + 28)
    for key, group in sorted(org.groups.items()):
        if OnCallSchedule.objects.filter(group=group).exists():
            continue
        members = sorted(
            (m for m in group.members.filter(is_active=True) if m.is_support_staff),
            key=lambda m: m.username,
        )
        if not members:
            continue
        daily = key == "desk"
        layers = [
            services.LayerInput(
                name="primary", members=members, rotation="daily" if daily else "weekly",
                starts_on=monday, handoff_time=time(9, 0),
            )
        ]  # fmt: skip
        if len(members) > 1:
            layers.append(services.LayerInput(
                name="secondary", members=members[1:] + members[:1],
                rotation="daily" if daily else "weekly", starts_on=monday, handoff_time=time(9, 0),
            ))  # fmt: skip
        with transaction.atomic():
            services.do_create_schedule(
                actor=None, group=group, time_zone=TIME_ZONE, layers=layers,
                description=f"Kept by {group.manager}." if group.manager else "",
            )  # fmt: skip
