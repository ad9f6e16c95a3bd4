"""Mark an incident's report facts for recomputation in the transaction of its change
(``pending.py``); forget its monthly counts when it is deleted."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save, pre_delete
from django.dispatch import receiver

from servicedesk.core.events import subscribe
from servicedesk.escalation.models import BusinessCalendar
from servicedesk.incidents.models import Incident

from . import business_time, facts, pending, rollup
from .models import IncidentFact


@subscribe("incident")
def mark_incident_facts(event: Any) -> None:
    # Every change but worklog entries can move a figure; recomputing from the
    # whole timeline (in the worker, or before a report reads) keeps the facts
    # exact whatever order events arrive in.
    if event.type in facts.IGNORED_EVENT_TYPES:
        return
    pending.mark([event.incident.pk])


@receiver(pre_delete, sender=Incident, dispatch_uid="reports.forget_incident")
def forget_incident(sender: Any, instance: Incident, **kwargs: Any) -> None:
    # The facts go with the incident (CASCADE); its monthly counts must go too.
    old = IncidentFact.objects.filter(incident_id=instance.pk).values(*rollup.FACT_FIELDS)
    rollup.apply(list(old), [])


# Reports may count a named escalation calendar's business time: drop it when it changes.
post_save.connect(
    business_time.forget_named, sender=BusinessCalendar, dispatch_uid="reports.cal_saved"
)
post_delete.connect(
    business_time.forget_named, sender=BusinessCalendar, dispatch_uid="reports.cal_deleted"
)
