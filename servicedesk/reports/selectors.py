"""Read-only queries over the report facts, shared by every incident report."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet

from servicedesk.accounts.models import SupportGroup
from servicedesk.catalog.models import Service, Technology, UserGroup

from .models import IncidentFact, IncidentGroupFact
from .registry import Params


def _common(qs: QuerySet[Any], p: Params) -> QuerySet[Any]:
    if p.severity:
        qs = qs.filter(severity__in=p.severity)
    if p.service is not None:
        qs = qs.filter(service_id=p.service)
    if p.technology is not None:
        qs = qs.filter(technology_id=p.technology)
    if p.user_group is not None:
        qs = qs.filter(user_group_id=p.user_group)
    return qs


def filtered_facts(p: Params, qs: QuerySet[IncidentFact] | None = None) -> QuerySet[IncidentFact]:
    """Incident facts matching the filters: support level and group mean "the
    incident reached that level" / "that group held it at some time"."""
    qs = _common(IncidentFact.objects.all() if qs is None else qs, p)
    if p.support_level is not None:
        qs = qs.filter(**{f"reached_l{p.support_level}": True})
    if p.group is not None:
        qs = qs.filter(
            Exists(
                IncidentGroupFact.objects.filter(
                    incident_id=OuterRef("incident_id"), group_id=p.group
                )
            )
        )
    return qs


def opened_in_period(p: Params) -> QuerySet[IncidentFact]:
    return filtered_facts(p).filter(opened_at__gte=p.start, opened_at__lt=p.end)


def resolved_in_period(p: Params) -> QuerySet[IncidentFact]:
    """Incidents whose final resolution falls in the period (resolved or closed now)."""
    return filtered_facts(p).filter(resolved_at__gte=p.start, resolved_at__lt=p.end)


def group_facts_resolved_in_period(p: Params) -> QuerySet[IncidentGroupFact]:
    """Time held per (incident, group) for incidents finally resolved in the period;
    the support level and group filters select the holding groups."""
    qs = _common(IncidentGroupFact.objects.all(), p).filter(
        resolved_at__gte=p.start, resolved_at__lt=p.end
    )
    if p.support_level is not None:
        qs = qs.filter(support_level=p.support_level)
    if p.group is not None:
        qs = qs.filter(group_id=p.group)
    return qs


def names(model: type[Any], ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {pk: str(obj) for pk, obj in model.objects.in_bulk(list(wanted)).items()}


def group_names(ids: Iterable[int | None]) -> dict[int, str]:
    return names(SupportGroup, ids)


def ref(pk: int | None, table: dict[int, str]) -> dict[str, Any] | None:
    if pk is None:
        return None
    return {"id": pk, "name": table.get(pk, f"#{pk}")}


MODELS = {"service": Service, "technology": Technology, "user_group": UserGroup}
