"""The selection score: which problems to investigate first (SPEC 3).

Each factor is scaled to 0..1 and weighted by its ``SelectionFactor`` row
(editable in the admin); the score is the weighted mean times 100, and the
breakdown says what each factor contributed, so a ranking can be explained.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Min, Sum

from .models import Problem, SelectionFactor

Key = SelectionFactor.Key

# key -> (weight, cap): the defaults a fresh installation starts with.
DEFAULT_FACTORS: dict[str, tuple[float, float]] = {
    Key.LINKED_INCIDENTS: (3.0, 10.0),
    Key.SEVERITY: (3.0, 1.0),
    Key.USERS_AFFECTED: (2.0, 100.0),
    Key.BUSINESS_IMPACT: (2.0, 5.0),
    Key.COST: (1.0, 100_000.0),
}
WORST_SEVERITY = 4


@dataclass(frozen=True)
class FactorScore:
    key: str
    raw: float
    scaled: float
    weight: float
    contribution: float


def factors() -> dict[str, tuple[float, float]]:
    """The configured (weight, cap) per factor; defaults fill in missing rows."""
    configured = {f.key: (f.weight, f.cap) for f in SelectionFactor.objects.all()}
    return {key: configured.get(key, default) for key, default in DEFAULT_FACTORS.items()}


def raw_values(problem: Problem) -> dict[str, float]:
    links = problem.incident_links.aggregate(
        worst=Min("incident__severity"), users=Sum("incident__affected_users")
    )
    count = problem.incident_links.count()
    cost = problem.cost_estimate if isinstance(problem.cost_estimate, Decimal) else Decimal(0)
    return {
        Key.LINKED_INCIDENTS: float(count),
        Key.SEVERITY: float(links["worst"] or 0),
        Key.USERS_AFFECTED: float(max(problem.users_affected, links["users"] or 0)),
        Key.BUSINESS_IMPACT: float(problem.business_impact),
        Key.COST: float(cost),
    }


def _scale(key: str, raw: float, cap: float) -> float:
    if key == Key.SEVERITY:
        # Severity 1 (the highest) counts in full, 4 a quarter, none nothing.
        if raw <= 0:
            return 0.0
        return max(0.0, min(1.0, (WORST_SEVERITY + 1 - raw) / WORST_SEVERITY))
    if cap <= 0:
        return 0.0
    return max(0.0, min(1.0, raw / cap))


def breakdown(problem: Problem) -> tuple[float, list[FactorScore]]:
    config = factors()
    values = raw_values(problem)
    total_weight = sum(max(0.0, w) for w, _ in config.values())
    parts: list[FactorScore] = []
    score = 0.0
    for key, (weight, cap) in config.items():
        weight = max(0.0, weight)
        scaled = _scale(key, values[key], cap)
        contribution = 100 * weight * scaled / total_weight if total_weight else 0.0
        score += contribution
        parts.append(
            FactorScore(key, values[key], round(scaled, 4), weight, round(contribution, 2))
        )
    return round(score, 2), parts


def compute(problem: Problem) -> float:
    return breakdown(problem)[0]
