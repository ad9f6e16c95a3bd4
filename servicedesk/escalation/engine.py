"""SLA clocks and the escalation timer of each incident.

Everything an incident's policy schedules (escalation steps and the 50/75/90/100 %
thresholds of the respond and resolve clocks) is measured in *clock time*:
business seconds of the policy's calendar since the opening, minus pauses. So
pausing, calendars and daylight-saving changes apply to steps and deadlines
alike, and one number says what falls due next.

Each incident has at most one active due item, ``escalation:incident:<id>``,
moved in the transaction of every change that affects it (listeners.py) and
performed by the worker (:func:`perform`), which fires what is due in clock
order and moves the item to the next moment.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from servicedesk.core import clock as wall
from servicedesk.core import confcache, locking, scheduling
from servicedesk.core.registry import DueOutcome, Reschedule, Skipped
from servicedesk.core.writes import insert, update
from servicedesk.incidents.models import Incident, Status
from servicedesk.incidents.services import LOCK_RELATED, append_event, holding

from . import policies, steps
from .calendars import Calendar, Clock
from .models import ClockStatus, EscalationStep, IncidentEscalation

KIND = "escalation.step"
PERCENTS = (50, 75, 90, 100)
CLOCKS = ("respond", "resolve")
# Pending on the user or a vendor stops the clocks (the source: time frames are
# negotiated with the user). Pending on a problem's fix does not: that wait is on
# our own organisation and the user is still without service, so the clocks run
# and breaches are honest; but its steps are held, because problem management
# owns the incident meanwhile and a timer must not pull it out of pending. Held
# steps that fell due fire when it leaves that state (docs/escalation.md).
PAUSING_REASONS = frozenset({"awaiting_user", "awaiting_vendor"})
HOLDING_REASONS = frozenset({"awaiting_problem"})
# Clock arithmetic is in float seconds; deadlines are rounded to microseconds.
EPS = 0.001
# What the worker's perform changes in the clocks' row.
PROGRESS_FIELDS = (
    "next_step", "thresholds", "respond_breached_at", "resolve_breached_at", "updated_at",
)  # fmt: skip
# Everything but the key: what a change of the clocks writes.
STATE_FIELDS = tuple(f.name for f in IncidentEscalation._meta.concrete_fields if not f.primary_key)
# What is loaded with the incident: what the incident services read, since the
# steps' services take the incident as the worker locked it (``holding``), and
# the references the messages about a step print (one join per chunk instead of
# one query per step).
INCIDENT_RELATED = (
    *LOCK_RELATED, "technology", "service", "configuration_item", "category", "user_group",
)  # fmt: skip

_performing: ContextVar[int | None] = ContextVar("escalation_performing", default=None)
# The incidents of the worker's current chunk, locked and read in one statement.
_prefetched: ContextVar[dict[int, Incident] | None] = ContextVar(
    "escalation_prefetched", default=None
)


def key(incident_id: int) -> str:
    return f"escalation:incident:{incident_id}"


# ---- reading the state --------------------------------------------------------------------


def calendar_of(state: IncidentEscalation) -> Calendar:
    return Calendar.from_dict(state.snapshot["calendar"])


def clock_of(state: IncidentEscalation) -> Clock:
    return Clock(state.consumed, state.running_since)


def target(state: IncidentEscalation, name: str) -> int:
    return int(state.snapshot[f"{name}_within"])


def stopped(state: IncidentEscalation, name: str) -> bool:
    return getattr(state, f"{name}_stopped_at") is not None


@dataclass(frozen=True)
class Entry:
    """Something the plan fires at ``offset`` seconds of clock time."""

    offset: float
    order: int  # thresholds before steps at the same moment
    clock: str = ""
    percent: int = 0
    step: int = -1


def pending_entries(state: IncidentEscalation) -> list[Entry]:
    """The next unfired threshold of each running clock and the next step."""
    entries: list[Entry] = []
    for name in CLOCKS:
        if stopped(state, name):
            continue
        fired = set((state.thresholds or {}).get(name, []))
        percent = next((p for p in PERCENTS if p not in fired), None)
        if percent is not None:
            entries.append(
                Entry(target(state, name) * percent / 100, 0, clock=name, percent=percent)
            )
    plan = state.snapshot.get("steps", [])
    if state.next_step < len(plan) and not state.steps_held:
        entries.append(Entry(float(plan[state.next_step]["offset"]), 1, step=state.next_step))
    return sorted(entries, key=lambda e: (e.offset, e.order))


def next_due(state: IncidentEscalation) -> datetime | None:
    if state.status != ClockStatus.RUNNING:
        return None
    entries = pending_entries(state)
    if not entries:
        return None
    return clock_of(state).due(calendar_of(state), entries[0].offset)


def live_deadline(state: IncidentEscalation, name: str) -> datetime | None:
    """When clock ``name`` reaches (or reached) its target; None while paused."""
    breached = getattr(state, f"{name}_breached_at")
    if breached is not None:
        return breached
    clock = clock_of(state)
    if clock.running_since is None:
        return None
    return clock.due(calendar_of(state), target(state, name))


# ---- changes (called by listeners, inside the change's transaction) ------------------------------


def _lock(incident_id: int) -> IncidentEscalation | None:
    return next(iter(IncidentEscalation.objects.select_for_update().filter(pk=incident_id)), None)


def _policy_ref(state: IncidentEscalation) -> dict[str, Any] | None:
    snap = state.snapshot
    return {"id": snap["policy_id"], "name": snap["name"]} if snap.get("policy_id") else None


def _write_deadlines(state: IncidentEscalation, incident: Incident) -> None:
    """Keep the incident's ``respond_by``/``resolve_by``: the deadline of a running
    clock, none while paused, and for a stopped clock the deadline it had."""
    for name in CLOCKS:
        if not stopped(state, name):
            setattr(incident, f"{name}_by", live_deadline(state, name))
    update(incident, "respond_by", "resolve_by")


def _reschedule(state: IncidentEscalation) -> None:
    if _performing.get() == state.pk:
        return  # the worker performing this incident settles its own item
    due = next_due(state)
    if due is None:
        scheduling.cancel(key(state.pk))
    else:
        scheduling.schedule(key=key(state.pk), kind=KIND, at=due, payload={"incident": state.pk})


def _changed(state: IncidentEscalation, incident: Incident) -> None:
    """Save the clocks, the card's deadlines and the timer. No timeline event:
    the change that caused it (created, status_changed, ...) is the event, and
    the clocks' state is on the card and in /incidents/{id}/sla."""
    update(state, *STATE_FIELDS)
    _write_deadlines(state, incident)
    _reschedule(state)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _should_pause(incident: Incident) -> bool:
    return incident.status == Status.PENDING and incident.pending_reason in PAUSING_REASONS


def _should_hold(incident: Incident) -> bool:
    return incident.status == Status.PENDING and incident.pending_reason in HOLDING_REASONS


def start(incident: Incident) -> IncidentEscalation | None:
    """Start the clocks and plan the steps of a new incident (no policy: no SLA)."""
    policy = policies.select_policy(incident)
    if policy is None:
        return None
    state = IncidentEscalation(
        incident=incident, policy=policy, snapshot=policies.snapshot(policy),
        running_since=incident.opened_at, thresholds={}, steps_held=_should_hold(incident),
    )  # fmt: skip
    if _should_pause(incident):
        state.status, state.pause_reason, state.running_since = (
            ClockStatus.PAUSED, incident.pending_reason, None,
        )  # fmt: skip
    insert(state)
    # Just inserted as it stands: the card's deadlines and the timer, no second save.
    _write_deadlines(state, incident)
    _reschedule(state)
    return state


def sync(incident: Incident) -> None:
    """Follow the incident's status: pause while pending on the user or a vendor,
    resume otherwise; stop the respond clock at the first response."""
    state = _lock(incident.pk)
    if state is None or state.status == ClockStatus.STOPPED:
        return
    now = wall.now()
    cal = calendar_of(state)
    action = ""
    if _should_pause(incident) and state.status == ClockStatus.RUNNING:
        paused = clock_of(state).pause(cal, now)
        state.consumed, state.running_since = paused.consumed, None
        state.status, state.pause_reason, action = (
            ClockStatus.PAUSED,
            incident.pending_reason,
            "paused",
        )
    elif not _should_pause(incident) and state.status == ClockStatus.PAUSED:
        state.running_since, state.status, state.pause_reason = now, ClockStatus.RUNNING, ""
        action = "resumed"
    if _should_hold(incident) != state.steps_held:
        state.steps_held = not state.steps_held
        action = action or ("steps_held" if state.steps_held else "steps_released")
    if incident.responded_at is not None and state.respond_stopped_at is None:
        _stop_clock(state, incident, "respond", min(incident.responded_at, now), now)
        action = action or "responded"
    if action:
        _changed(state, incident)


def _stop_clock(
    state: IncidentEscalation, incident: Incident, name: str, at: datetime, now: datetime
) -> None:
    """Stop clock ``name`` at ``at``; the card keeps the deadline it had (for a
    paused clock: as if it had resumed at the stop)."""
    cal = calendar_of(state)
    value = live_deadline(state, name)
    if value is None:
        value = Clock(state.consumed, at).due(cal, target(state, name))
    setattr(incident, f"{name}_by", value)
    elapsed = clock_of(state).elapsed(cal, at)
    setattr(state, f"{name}_stopped_at", at)
    setattr(state, f"{name}_elapsed", elapsed)
    if elapsed > target(state, name) + EPS and getattr(state, f"{name}_breached_at") is None:
        # Breached while no worker announced it (e.g. during downtime): record it.
        setattr(state, f"{name}_breached_at", value)


def stop(incident: Incident, reason: str) -> None:
    """Resolved, cancelled or closed: the clocks stop and no step fires."""
    state = _lock(incident.pk)
    if state is None:
        return
    if state.status == ClockStatus.STOPPED:
        scheduling.cancel(key(state.pk))
        return
    now = wall.now()
    for name in CLOCKS:
        if not stopped(state, name):
            _stop_clock(state, incident, name, now, now)
    state.consumed = clock_of(state).pause(calendar_of(state), now).consumed
    state.running_since, state.status, state.pause_reason = None, ClockStatus.STOPPED, ""
    _changed(state, incident)


def reopen(incident: Incident) -> None:
    """Reopened: the resolve clock resumes where it stopped; the plan continues."""
    state = _lock(incident.pk)
    if state is None or state.status != ClockStatus.STOPPED:
        return
    now = wall.now()
    state.resolve_stopped_at = state.resolve_elapsed = None
    state.status, state.running_since = ClockStatus.RUNNING, now
    state.steps_held = _should_hold(incident)
    if _should_pause(incident):
        state.status, state.running_since = ClockStatus.PAUSED, None
    _changed(state, incident)


def recompute(incident: Incident, reason: str) -> None:
    """Severity (or the service, CI, technology, user group) changed: take the
    policy that now applies; elapsed clock time is kept, deadlines and steps are
    recomputed, and steps already due under the new plan fire at once unless
    their effect already happened (steps.py)."""
    state = _lock(incident.pk)
    if state is None:
        if incident.is_open:
            start(incident)
        return
    if state.status == ClockStatus.STOPPED:
        return
    policy = policies.select_policy(incident)
    if policy is None or (policy.pk == state.policy_id and reason != "severity"):
        return
    now = wall.now()
    elapsed = clock_of(state).elapsed(calendar_of(state), now)
    if state.running_since is not None:
        state.consumed, state.running_since = elapsed, now
    state.policy, state.snapshot = policy, policies.snapshot(policy)
    state.generation += 1
    state.next_step = 0
    # Re-arm thresholds the new targets put back ahead; keep those still crossed.
    for name in CLOCKS:
        if stopped(state, name):
            continue
        fired = (state.thresholds or {}).get(name, [])
        state.thresholds[name] = [
            p for p in fired if elapsed + EPS >= target(state, name) * p / 100
        ]
        if elapsed + EPS < target(state, name):
            setattr(state, f"{name}_breached_at", None)
    _changed(state, incident)


# ---- the worker's side -------------------------------------------------------------------------


@contextmanager
def _performing_incident(incident_id: int) -> Iterator[None]:
    token = _performing.set(incident_id)
    try:
        yield
    finally:
        _performing.reset(token)


def performing(incident_id: int) -> bool:
    """True while the worker fires this incident's steps: its escalations never
    pause, resume or answer the incident, so the listener need not follow them,
    and the worker settles the timer itself."""
    return _performing.get() == incident_id


def _locked_incidents(incident_ids: list[int]) -> list[Incident]:
    # Services lock the incident, then move its due item; the worker holds the
    # item and must not then wait for the incident (a lock-order deadlock): a
    # busy incident is skipped (SKIP LOCKED) and looked at again in a second.
    # The clocks are read with it, after the lock is granted: every change to
    # them holds the incident's lock.
    return locking.lock_then_read(
        Incident, incident_ids, (*INCIDENT_RELATED, "escalation"), skip_locked=True
    )


@contextmanager
def prefetched(incident_ids: list[int]) -> Iterator[None]:
    """For the worker's chunk of due items: lock and read their incidents (and
    clocks) in one statement, in id order; :func:`perform` takes each from there.
    One that is busy (locked by a service) is not in it: its perform looks again
    and reschedules it."""
    found = {incident.pk: incident for incident in _locked_incidents(incident_ids)}
    token = _prefetched.set(found)
    try:
        with confcache.scope():
            yield
    finally:
        _prefetched.reset(token)


def perform(incident_id: int) -> DueOutcome:
    """Fire everything due for the incident, in clock order, then move the timer
    to the next moment. Runs in the due item's transaction."""
    now = wall.now()
    chunk = _prefetched.get()
    if chunk is not None and incident_id in chunk:
        incident: Incident | None = chunk.pop(incident_id)
    else:
        incident = next(iter(_locked_incidents([incident_id])), None)
    if incident is None:
        if not Incident.objects.filter(pk=incident_id).exists():
            return Skipped("the incident no longer exists")
        return Reschedule(at=now + timedelta(seconds=1), payload={"incident": incident_id},
                          detail="the incident is being changed; retrying")  # fmt: skip
    # Read with the incident: every change to the clocks holds the incident's lock.
    state = getattr(incident, "escalation", None)
    if state is None or state.status != ClockStatus.RUNNING:
        return Skipped(f"the clocks are {state.status if state else 'gone'}")
    fired: list[str] = []
    cal = calendar_of(state)
    elapsed = clock_of(state).elapsed(cal, now)
    # The steps read configuration and write none: one configuration token for all.
    with _performing_incident(incident_id), holding(incident), confcache.scope():
        for entry in _due_entries(state, elapsed):
            if entry.step >= 0:
                incident, detail = _fire_step(state, incident, entry.step, now)
            else:
                detail = _fire_threshold(state, incident, entry.clock, entry.percent, now)
            fired.append(detail)
        update(state, *PROGRESS_FIELDS)
    due = next_due(state)
    detail = "; ".join(fired)[:2000]
    if due is None:
        return None
    return Reschedule(at=due, payload={"incident": incident_id}, detail=detail)


def _due_entries(state: IncidentEscalation, elapsed: float) -> Iterator[Entry]:
    """What is due at ``elapsed`` clock seconds, in clock order; each entry is
    marked fired (in ``state``) by the caller before the next is looked at."""
    while True:
        entries = pending_entries(state)
        if not entries or entries[0].offset > elapsed + EPS:
            return
        yield entries[0]


def _fire_threshold(
    state: IncidentEscalation, incident: Incident, name: str, percent: int, now: datetime
) -> str:
    state.thresholds = {
        **(state.thresholds or {}),
        name: [*state.thresholds.get(name, []), percent],
    }
    due = live_deadline(state, name)
    if percent == 100 and getattr(state, f"{name}_breached_at") is None:
        setattr(state, f"{name}_breached_at", due or now)
    append_event(
        incident, "sla_threshold", actor=None,
        payload={"clock": name, "percent": percent, "due_at": _iso(due),
                 "target_seconds": target(state, name),
                 "elapsed_seconds": round(clock_of(state).elapsed(calendar_of(state), now), 3),
                 "policy": _policy_ref(state)},
    )  # fmt: skip
    return f"{name} {percent}%"


def _fire_step(
    state: IncidentEscalation, incident: Incident, index: int, now: datetime
) -> tuple[Incident, str]:
    """Perform step ``index``; returns the incident as the step left it."""
    plan = state.snapshot["steps"]
    step = plan[index]
    due = clock_of(state).due(calendar_of(state), float(step["offset"])) or now
    state.next_step = index + 1
    outcome = steps.perform(
        step=step, incident=incident, ordinal=policies.ordinal(plan, index),
        policy_name=state.snapshot["name"], now=now,
    )  # fmt: skip
    incident = outcome.incident or incident
    insert(
        EscalationStep(
            incident=incident,
            generation=state.generation,
            index=index,
            policy_name=state.snapshot["name"][:100],
            kind=step["kind"],
            support_level=step.get("support_level"),
            target=policies.step_target(step)[:500],
            due_at=due,
            performed_at=now,
            state=outcome.state,
            detail=outcome.detail[:500],
        )
    )
    event = append_event(
        incident, "escalation_step", actor=None,
        payload={"policy": _policy_ref(state), "step": index + 1, "kind": step["kind"],
                 "support_level": step.get("support_level"), "state": outcome.state,
                 "detail": outcome.detail[:500], "due_at": _iso(due)},
    )  # fmt: skip
    if outcome.after_event is not None:
        outcome.after_event(event)
    return incident, f"step {index + 1} {step['kind']} {outcome.state}"
