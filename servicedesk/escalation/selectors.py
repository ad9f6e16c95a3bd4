"""Read-only views of the engine: an incident's clocks and plan, a policy's dry run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from servicedesk.accounts.services import find_group, manager_chain
from servicedesk.core import clock as wall
from servicedesk.incidents.events import ref
from servicedesk.incidents.models import Incident

from . import engine, policies
from .calendars import Calendar, Clock
from .models import ClockStatus, EscalationPolicy, EscalationStep, IncidentEscalation

STOP_DETAIL = "the clocks stopped (resolved, cancelled or closed) before it fell due"


def calendar_ref(snap: dict[str, Any]) -> dict[str, Any]:
    cal = snap["calendar"]
    return {"id": cal.get("id") or 0, "name": cal.get("name") or cal.get("kind", "24x7")}


def policy_ref(snap: dict[str, Any]) -> dict[str, Any] | None:
    return {"id": snap["policy_id"], "name": snap["name"]} if snap.get("policy_id") else None


def clocks(state: IncidentEscalation, now: datetime) -> list[dict[str, Any]]:
    """Each clock: elapsed, remaining, due time, breached (seconds of clock time)."""
    cal = engine.calendar_of(state)
    result = []
    for name in engine.CLOCKS:
        target = engine.target(state, name)
        is_stopped = engine.stopped(state, name)
        elapsed = (
            getattr(state, f"{name}_elapsed")
            if is_stopped
            else engine.clock_of(state).elapsed(cal, now)
        )
        breached_at = getattr(state, f"{name}_breached_at")
        result.append({
            "name": name,
            "state": "stopped" if is_stopped else state.status,
            "target_seconds": target,
            "elapsed_seconds": round(elapsed, 3),
            "remaining_seconds": round(target - elapsed, 3),
            "due_at": getattr(state.incident, f"{name}_by"),
            "breached": breached_at is not None or elapsed > target + engine.EPS,
            "breached_at": breached_at,
            "stopped_at": getattr(state, f"{name}_stopped_at"),
            "thresholds_fired": sorted((state.thresholds or {}).get(name, [])),
        })  # fmt: skip
    return result


def _dynamic_flags(step: dict[str, Any], incident: Incident, ordinal: int) -> list[str]:
    """What the incident's own situation says about a step still to come."""
    from servicedesk.oncall.models import OnCallSchedule

    flags: list[str] = []
    level = int(step.get("support_level") or 0)
    if step["kind"] == "assign":
        if incident.support_level >= level:
            flags.append("unreachable")
        elif find_group(level=level, technology_id=incident.technology_id) is None:
            flags.append("no_group")
    elif step["kind"] == "page":
        group = (
            find_group(level=level, technology_id=incident.technology_id)
            if level
            else incident.assigned_group
        )
        if group is None:
            flags.append("no_group")
        elif not OnCallSchedule.objects.filter(group=group).exists():
            flags.append("no_schedule")
    elif step["kind"] == "notify_manager":
        chain = manager_chain(
            technology_id=incident.technology_id, fallback_group=incident.assigned_group
        )
        if len(chain) < ordinal:
            flags.append("no_manager")
    return flags


def _step_out(step: dict[str, Any], index: int, flags: list[str]) -> dict[str, Any]:
    return {
        "step": index + 1, "kind": step["kind"], "support_level": step.get("support_level"),
        "after": step["after"], "offset": step["offset"], "due_at": None, "state": "pending",
        "detail": "", "performed_at": None, "flags": flags,
    }  # fmt: skip


def incident_plan(incident: Incident) -> dict[str, Any]:
    """The incident's policy, clocks and every step with its due time and state."""
    now = wall.now()
    state = IncidentEscalation.objects.filter(incident=incident).first()
    base: dict[str, Any] = {
        "incident": ref(incident), "severity": incident.severity, "opened_at": incident.opened_at,
        "respond_by": incident.respond_by, "resolve_by": incident.resolve_by, "warnings": [],
    }  # fmt: skip
    if state is None:
        return {
            **base, "policy": None, "calendar": None, "offsets": None, "status": "none",
            "pause_reason": "", "clocks": [], "steps": [], "history": [],
            "warnings": [f"no active escalation policy applies to severity {incident.severity}"],
        }  # fmt: skip
    state.incident = incident
    snap = state.snapshot
    plan = snap.get("steps", [])
    records = {(r.generation, r.index): r for r in EscalationStep.objects.filter(incident=incident)}
    static = policies.static_flags(snap)
    cal, clock = engine.calendar_of(state), engine.clock_of(state)
    steps_out = []
    for index, step in enumerate(plan):
        out = _step_out(step, index, list(static[index]))
        record = records.get((state.generation, index))
        if index < state.next_step:
            if record is not None:
                out.update(state=record.state, detail=record.detail, due_at=record.due_at,
                           performed_at=record.performed_at)  # fmt: skip
            else:
                out.update(state="done")
        elif state.status == ClockStatus.STOPPED:
            out.update(state="skipped", detail=STOP_DETAIL)
        elif state.status == ClockStatus.PAUSED:
            out.update(state="paused", detail=f"the clocks are paused ({state.pause_reason})")
        elif state.steps_held:
            out.update(state="held", detail="held while the incident is pending on a problem")
        else:
            out["due_at"] = clock.due(cal, float(step["offset"]))
            out["flags"] += _dynamic_flags(step, incident, policies.ordinal(plan, index))
        steps_out.append(out)
    history = [
        {
            "generation": r.generation,
            "step": r.index + 1,
            "policy": r.policy_name,
            "kind": r.kind,
            "support_level": r.support_level,
            "state": r.state,
            "detail": r.detail,
            "due_at": r.due_at,
            "performed_at": r.performed_at,
        }
        for r in sorted(records.values(), key=lambda r: (r.performed_at, r.pk))
    ]
    return {
        **base, "policy": policy_ref(snap), "calendar": calendar_ref(snap), "offsets": snap["offsets"],
        "status": state.status, "pause_reason": state.pause_reason, "clocks": clocks(state, now),
        "steps": steps_out, "history": history,
    }  # fmt: skip


def simulate(
    policy: EscalationPolicy, *, opened_at: datetime, severity: int | None
) -> dict[str, Any]:
    """A dry run: the policy applied to an incident opened at ``opened_at`` that
    nobody touches (no pause, no response) until every step has fired."""
    snap = policies.snapshot(policy)
    cal = Calendar.from_dict(snap["calendar"])
    clock = Clock.started(opened_at)
    warnings = []
    if severity is not None and severity != policy.severity:
        warnings.append(
            f"this policy applies to severity {policy.severity}; an incident of severity "
            f"{severity} follows another policy"
        )
    if not policy.active:
        warnings.append("this policy is inactive: no incident follows it")
    static = policies.static_flags(snap)
    steps_out = []
    for index, step in enumerate(snap["steps"]):
        out = _step_out(step, index, static[index])
        out["due_at"] = clock.due(cal, float(step["offset"]))
        steps_out.append(out)
    clocks_out = []
    for name in engine.CLOCKS:
        target = int(snap[f"{name}_within"])
        clocks_out.append({
            "name": name, "target_seconds": target, "due_at": clock.due(cal, target),
            "thresholds": [{"percent": p, "at": clock.due(cal, target * p / 100)}
                           for p in engine.PERCENTS],
        })  # fmt: skip
    return {
        "policy": ref(policy), "severity": severity if severity is not None else policy.severity,
        "calendar": calendar_ref(snap), "offsets": snap["offsets"], "opened_at": opened_at,
        "respond_by": clocks_out[0]["due_at"], "resolve_by": clocks_out[1]["due_at"],
        "clocks": clocks_out, "steps": steps_out, "warnings": warnings,
    }  # fmt: skip
