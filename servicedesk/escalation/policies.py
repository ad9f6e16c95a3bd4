"""Choosing an incident's policy and freezing it into a plan snapshot."""

from __future__ import annotations

import copy
from typing import Any

from servicedesk.core import confcache
from servicedesk.incidents.models import Incident

from .models import SPECIFICITY, BusinessCalendar, EscalationPolicy, Offsets, PolicyStep, Scope

SCOPE_FIELDS = ("configuration_item", "service", "technology", "user_group")
# The active policies are read at every incident registration and severity or scope
# change: cached per configuration version (core/confcache.py), with their plan.
confcache.watch(EscalationPolicy, PolicyStep, BusinessCalendar)
_SNAPSHOT = "_confcache_snapshot"


def _active_policies() -> dict[int, list[EscalationPolicy]]:
    by_severity: dict[int, list[EscalationPolicy]] = {}
    policies = (
        EscalationPolicy.objects.filter(active=True)
        .select_related("calendar")
        .prefetch_related("steps")
        .order_by("severity", "name", "pk")
    )
    for policy in policies:
        by_severity.setdefault(policy.severity, []).append(policy)
    return by_severity


def _applies(policy: EscalationPolicy, incident: Incident) -> bool:
    if policy.scope == Scope.ALL:
        return True
    if policy.scope not in SCOPE_FIELDS:
        return False
    value = getattr(incident, f"{policy.scope}_id")
    return value is not None and getattr(policy, f"{policy.scope}_id") == value


def select_policy(incident: Incident) -> EscalationPolicy | None:
    """The active policy for the incident's severity; the most specific wins
    (configuration item > service > technology > user group > all)."""
    candidates = [
        policy
        for policy in confcache.cached("escalation.policies", _active_policies).get(
            incident.severity, []
        )
        if _applies(policy, incident)
    ]
    best = max(candidates, key=lambda p: SPECIFICITY[Scope(p.scope)], default=None)
    if best is None:
        return None
    if _SNAPSHOT not in best.__dict__:
        # The plan of the cached row, computed once (a broken calendar raises here, for
        # the incidents that select this policy only, as before the cache).
        setattr(best, _SNAPSHOT, snapshot(best))
    return copy.copy(best)


def step_offsets(offsets: str, afters: list[int]) -> list[int]:
    """Clock seconds from the opening at which each step falls due."""
    result, total = [], 0
    for after in afters:
        total = total + after if offsets == Offsets.PER_STEP else after
        result.append(total)
    return result


def _copied(value: Any) -> Any:
    """A copy of JSON-shaped data (``copy.deepcopy`` costs five times as much)."""
    if isinstance(value, dict):
        return {k: _copied(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copied(v) for v in value]
    return value


def snapshot(policy: EscalationPolicy) -> dict[str, Any]:
    """The policy as data: what a running incident follows until its severity
    or scope changes (editing the matrix affects new incidents)."""
    cached = policy.__dict__.get(_SNAPSHOT)
    if cached is not None:
        return _copied(cached)
    steps = sorted(policy.steps.all(), key=lambda s: s.position)
    offsets = step_offsets(policy.offsets, [s.after for s in steps])
    return {
        "policy_id": policy.pk,
        "name": policy.name,
        "severity": policy.severity,
        "scope": policy.scope,
        "offsets": policy.offsets,
        "respond_within": policy.respond_within,
        "resolve_within": policy.resolve_within,
        "calendar": policy.calendar.snapshot(),
        "steps": [
            {
                "kind": s.kind,
                "support_level": s.support_level,
                "after": s.after,
                "offset": offset,
                "ack_within": s.ack_within,
                "starts_in": s.starts_in,
                "bridge": s.bridge,
                "url": s.url,
                "secret": s.secret,
            }
            for s, offset in zip(steps, offsets, strict=True)
        ],
    }


def step_target(step: dict[str, Any]) -> str:
    """What a step acts on, to count repeated steps of the same kind."""
    if step["kind"] in ("assign", "page"):
        return f"level:{step.get('support_level') or 'current'}"
    if step["kind"] == "webhook":
        return str(step.get("url") or "")
    return ""


def ordinal(steps: list[dict[str, Any]], index: int) -> int:
    """1 for the first step of its kind and target, 2 for the second, ..."""
    mine = steps[index]
    return sum(
        1
        for s in steps[: index + 1]
        if s["kind"] == mine["kind"] and step_target(s) == step_target(mine)
    )


def static_flags(snap: dict[str, Any]) -> list[list[str]]:
    """Per step, what the policy alone says is wrong with it:

    - ``out_of_order``: (from_open) due before an earlier step; steps fire in due order;
    - ``overlap``: the same kind and target fall due at the same moment as an earlier step;
    - ``unreachable``: an assign step to a level an earlier (or simultaneous) assign
      step already reaches, so it is always skipped (unless someone de-escalates);
    - ``after_resolve_target``: it falls due only once the resolution target is breached.
    """
    steps = snap["steps"]
    flags: list[list[str]] = []
    for i, step in enumerate(steps):
        mine: list[str] = []
        earlier = steps[:i]
        if any(s["offset"] > step["offset"] for s in earlier):
            mine.append("out_of_order")
        if any(
            s["offset"] == step["offset"]
            and s["kind"] == step["kind"]
            and step_target(s) == step_target(step)
            for s in earlier
        ):
            mine.append("overlap")
        if step["kind"] == "assign" and any(
            s["kind"] == "assign"
            and s["offset"] <= step["offset"]
            and (s.get("support_level") or 0) >= (step.get("support_level") or 0)
            for s in earlier
        ):
            mine.append("unreachable")
        if step["offset"] > snap["resolve_within"]:
            mine.append("after_resolve_target")
        flags.append(mine)
    return flags
