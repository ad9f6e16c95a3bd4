"""Demo data of communications: the shipped rules and templates, people's working
hours (one in Moscow time, with Russian messages), watchers, and a hand-written
status update on the demo's severity-1 incident. Idempotent."""

from __future__ import annotations

from datetime import time
from typing import Any

from django.db import transaction

from servicedesk.incidents.models import Incident, IncidentEvent

from . import defaults, services
from .models import NotificationPreference, SubjectType, Watcher

STATUS_UPDATE = (
    "Warehouse scanners cannot post goods receipts because the ERP posting queue is "
    "stuck. Application engineering is restarting the queue; until then, receipts are "
    "recorded on paper and posted later. Next update at 13:30."
)


def load(org: Any) -> None:
    defaults.install()
    users = org.users
    with transaction.atomic():
        # The 2nd-line network engineer works early shifts in Moscow and reads Russian.
        engineer = users.get("netops1")
        if engineer is not None:
            if not engineer.language:
                engineer.language = "ru"
                engineer.time_zone = "Europe/Moscow"
                engineer.save(update_fields=["language", "time_zone"])
            if not NotificationPreference.objects.filter(user=engineer).exists():
                services.do_set_preferences(
                    user=engineer, work_days=[0, 1, 2, 3, 4], work_starts=time(7),
                    work_ends=time(16),
                )  # fmt: skip
        manager = users.get("ops.head")
        for ref in ("DEMO-010", "DEMO-003"):
            incident = Incident.objects.filter(external_ref=ref).first()
            if incident is None or manager is None:
                continue
            if not Watcher.objects.filter(
                subject_type=SubjectType.INCIDENT, subject_id=incident.pk, user=manager
            ).exists():
                services.do_watch(actor=manager, incident=incident)
    major = Incident.objects.filter(external_ref="DEMO-010").first()
    author = users.get("desk4")
    if (
        major is not None
        and author is not None
        and major.is_open
        and not IncidentEvent.objects.filter(incident=major, type="status_update_sent").exists()
    ):
        services.do_send_status_update(incident=major, actor=author, text=STATUS_UPDATE)
