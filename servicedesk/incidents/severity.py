"""Severity from blocked users (SPEC Table 4 as data) and priority from impact x urgency."""

from __future__ import annotations

from servicedesk.core import confcache

from .models import PriorityRule, SeverityBand

# Used only when the band table is empty (it ships with Table 4).
_FALLBACK_BANDS = ((1, 50), (2, 10), (3, 1), (4, 0))

confcache.watch(SeverityBand, PriorityRule)


def _bands() -> tuple[tuple[int, int], ...]:
    return tuple(
        SeverityBand.objects.order_by("-min_affected_users").values_list(
            "severity", "min_affected_users"
        )
    )


def _priorities() -> dict[tuple[int, int], int]:
    return {
        (impact, urgency): priority
        for impact, urgency, priority in PriorityRule.objects.order_by(
            "impact", "urgency", "-pk"
        ).values_list("impact", "urgency", "priority")
    }


def severity_for(affected_users: int) -> int:
    """The severity band for ``affected_users`` blocked users: 50+ -> 1, 10-49 -> 2,
    1-9 -> 3, none yet -> 4 (the source leaves 50 open; we count it as 1)."""
    bands = confcache.cached("incidents.severity_bands", _bands) or _FALLBACK_BANDS
    for severity, minimum in bands:
        if affected_users >= minimum:
            return severity
    return max(severity for severity, _ in bands)


def priority_for(impact: int, urgency: int) -> int:
    rule = confcache.cached("incidents.priority_rules", _priorities).get((impact, urgency))
    # Without a rule, the ITIL default: the sum of the two, less one (1..5).
    return rule if rule is not None else impact + urgency - 1


def valid_severities() -> list[int]:
    bands = confcache.cached("incidents.severity_bands", _bands)
    return sorted(severity for severity, _ in bands) or [1, 2, 3, 4]
