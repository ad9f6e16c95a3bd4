"""What each step kind does when it falls due.

A step whose effect already happened is skipped and says why: an assign step
when the incident already is at or above the level (someone escalated by
hand), the n-th manager step when n managers are already involved, the n-th
page, meeting or webhook of its kind when n were already sent (a plan
recomputed after a severity change does not repeat them).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

from servicedesk.accounts.models import User
from servicedesk.accounts.services import find_group, manager_chain
from servicedesk.core import outbox
from servicedesk.core.errors import ServiceError
from servicedesk.incidents.events import ref
from servicedesk.incidents.models import Incident, IncidentEvent
from servicedesk.incidents.services import append_event, do_escalate
from servicedesk.integrations.listeners import incident_envelope

from .models import EmergencyMeeting, EscalationStep, StepState

LEVEL_NAMES = {1: "1st line", 2: "2nd line", 3: "3rd line"}
DEFAULT_ACK_WITHIN = 300
DEFAULT_MEETING_STARTS_IN = 600


def default_bridge() -> str:
    """The standing bridge of emergency meetings (``SERVICEDESK_EMERGENCY_BRIDGE``),
    used when a step names none."""
    return str(
        getattr(settings, "SERVICEDESK_EMERGENCY_BRIDGE", "")
        or os.environ.get("SERVICEDESK_EMERGENCY_BRIDGE", "")
    )


@dataclass(frozen=True)
class StepOutcome:
    state: str
    detail: str
    # Runs after the step's timeline event exists (the webhook carries it).
    after_event: Callable[[IncidentEvent], None] | None = None
    # The incident as the step left it, when the step changed it.
    incident: Incident | None = None


def done(
    detail: str,
    after_event: Callable[[IncidentEvent], None] | None = None,
    incident: Incident | None = None,
) -> StepOutcome:
    return StepOutcome(StepState.DONE, detail, after_event, incident)


def skipped(detail: str) -> StepOutcome:
    return StepOutcome(StepState.SKIPPED, detail)


def failed(detail: str) -> StepOutcome:
    return StepOutcome(StepState.FAILED, detail)


def perform(
    *, step: dict[str, Any], incident: Incident, ordinal: int, policy_name: str, now: datetime
) -> StepOutcome:
    """Perform one step; service errors (no group, no manager left) are the
    step's failure, recorded, and never undo the rest of the perform: the
    services that raise them roll back their own savepoint."""
    action = ACTIONS[step["kind"]]
    try:
        return action(step, incident, ordinal, policy_name, now)
    except ServiceError as exc:
        # The services act on this very instance (``holding``): forget what the
        # rolled-back attempt changed in it.
        incident.refresh_from_db()
        return failed(exc.message)


def _comment(policy_name: str, ordinal: int, kind: str) -> str:
    return f"Escalation policy '{policy_name}': {kind} step {ordinal} fell due."


def _assign(
    step: dict[str, Any], incident: Incident, ordinal: int, policy: str, now: datetime
) -> StepOutcome:
    level = int(step["support_level"])
    if incident.support_level >= level:
        return skipped(f"already at the {LEVEL_NAMES[incident.support_level]}")
    escalated = do_escalate(
        incident=incident.pk, actor=None, reason="time_expired", to_level=level, automatic=True,
        comment=_comment(policy, ordinal, "assign"),
    )  # fmt: skip
    return done(
        f"escalated to {escalated.assigned_group} ({LEVEL_NAMES[level]})", incident=escalated
    )


def _notify_manager(
    step: dict[str, Any], incident: Incident, ordinal: int, policy: str, now: datetime
) -> StepOutcome:
    involved = 0
    if incident.coordinator is not None:
        chain = manager_chain(
            technology_id=incident.technology_id, fallback_group=incident.assigned_group
        )
        involved = chain.index(incident.coordinator) + 1 if incident.coordinator in chain else 0
    if involved >= ordinal:
        return skipped(
            f"manager {ordinal} of the chain is already involved ({incident.coordinator})"
        )
    escalated = do_escalate(
        incident=incident.pk, actor=None, reason="time_expired", kind="hierarchical",
        automatic=True, comment=_comment(policy, ordinal, "manager"),
    )  # fmt: skip
    return done(f"{escalated.coordinator} coordinates the incident", incident=escalated)


def _already(incident: Incident, step: dict[str, Any], ordinal: int, target: str) -> bool:
    """The n-th step of this kind and target already had its effect."""
    count = EscalationStep.objects.filter(
        incident=incident, kind=step["kind"], target=target, state=StepState.DONE
    ).count()
    return count >= ordinal


def _page(
    step: dict[str, Any], incident: Incident, ordinal: int, policy: str, now: datetime
) -> StepOutcome:
    from servicedesk.oncall.services import do_page

    from .policies import step_target

    if _already(incident, step, ordinal, step_target(step)):
        return skipped("this page was already sent")
    level = step.get("support_level")
    group = (
        find_group(level=int(level), technology_id=incident.technology_id)
        if level
        else incident.assigned_group
    )
    if group is None:
        return failed(f"no active group at the {LEVEL_NAMES.get(int(level or 0), 'current level')}")
    page = do_page(
        incident=incident, group=group, actor=None,
        ack_within=int(step.get("ack_within") or DEFAULT_ACK_WITHIN),
        reason=_comment(policy, ordinal, "page"),
    )  # fmt: skip
    if page.person_id is None:
        return failed(f"nobody to page in {group}: no schedule, no one on call, no manager")
    return done(f"paged {page.person} ({group}), page {page.pk}")


def participants(incident: Incident, at: datetime) -> list[User]:
    """Who an emergency meeting convenes: the coordinator and the manager chain's
    first manager, the assignee, the managers of the technology's support groups
    and the on-call person of the group holding the incident."""
    from servicedesk.oncall.selectors import on_call_person

    people: list[User | None] = [incident.coordinator, incident.assignee]
    chain = manager_chain(
        technology_id=incident.technology_id, fallback_group=incident.assigned_group
    )
    people.extend(chain[:1])
    for level in (1, 2, 3):
        group = find_group(level=level, technology_id=incident.technology_id)
        if group is not None:
            people.append(group.manager)
    if incident.assigned_group is not None:
        people.append(on_call_person(incident.assigned_group, at))
    unique: dict[int, User] = {}
    for person in people:
        if person is not None and person.is_active:
            unique.setdefault(person.pk, person)
    return list(unique.values())


def _meeting(
    step: dict[str, Any], incident: Incident, ordinal: int, policy: str, now: datetime
) -> StepOutcome:
    if EmergencyMeeting.objects.filter(incident=incident).count() >= ordinal:
        return skipped("the emergency meeting was already convened")
    starts_in = step.get("starts_in")
    starts_at = now + timedelta(
        seconds=DEFAULT_MEETING_STARTS_IN if starts_in is None else int(starts_in)
    )
    bridge = step.get("bridge") or default_bridge()
    meeting = EmergencyMeeting.objects.create(
        incident=incident, starts_at=starts_at, bridge=bridge, created_at=now
    )
    people = participants(incident, now)
    meeting.participants.set(people)
    append_event(
        incident, "emergency_meeting", actor=None,
        payload={"meeting_id": meeting.pk, "starts_at": starts_at.isoformat(), "bridge": bridge,
                 "participants": [ref(p) for p in people]},
    )  # fmt: skip
    return done(
        f"meeting {meeting.pk} at {starts_at:%Y-%m-%d %H:%M} UTC, {len(people)} participants"
    )


def _webhook(
    step: dict[str, Any], incident: Incident, ordinal: int, policy: str, now: datetime
) -> StepOutcome:
    url = str(step.get("url") or "")
    if not url:
        return failed("the step has no URL")
    if _already(incident, step, ordinal, url):
        return skipped("this webhook was already called")

    def send(event: IncidentEvent) -> None:
        # The envelope of incident webhooks, for the step's own event; the
        # message id is stable across retries, so receivers de-duplicate.
        outbox.enqueue(
            channel="webhook", destination=url, payload=incident_envelope(event),
            event_type="incident.escalation_step", subject_type="incident",
            subject_id=incident.pk, meta={"secret": str(step.get("secret") or "")},
        )  # fmt: skip

    return done(f"webhook queued for {url}", after_event=send)


ACTIONS: dict[str, Callable[[dict[str, Any], Incident, int, str, datetime], StepOutcome]] = {
    "assign": _assign,
    "notify_manager": _notify_manager,
    "page": _page,
    "emergency_meeting": _meeting,
    "webhook": _webhook,
}
