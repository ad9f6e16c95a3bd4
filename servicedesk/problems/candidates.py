"""Inputs to problem control (SPEC 3, Table 2): candidates and the review queue.

(a) automatically: a candidate for every incident of severity 1 (threshold
    configurable) and every incident escalated to the 3rd line (listeners.py);
(b) the daily review queue of recent incidents, from which the problem
    manager sends incidents to problem control or dismisses them;
(c) by hand (``services.do_create_problem``);
and trend analysis proposes clusters (trends.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, QuerySet

from servicedesk.accounts.models import User
from servicedesk.core import clock
from servicedesk.core.errors import Conflict, FieldError, NotFound
from servicedesk.core.writes import insert
from servicedesk.incidents.models import Incident

from . import conf, permissions, services
from .models import Candidate, Problem, ProblemIncident, Source

State = Candidate.State


def propose_for_incident(
    *, incident: Incident, source: str, reason: str, new: bool = False
) -> Candidate | None:
    """Record (once per incident) that an incident should go to problem control.

    Called by listeners inside the incident's transaction: it only writes
    rows. A second reason for the same incident is added to the first
    candidate; an incident already linked to a problem needs none. ``new``: the
    incident was registered in this transaction (nothing to look up first)."""
    now = clock.now()

    def proposed() -> Candidate:
        candidate = insert(Candidate(
            source=source, incident=incident, title=incident.title, reasons=[reason],
            evidence={"severity": incident.severity, "support_level": incident.support_level},
            created_at=now, updated_at=now,
        ))  # fmt: skip
        insert(Candidate.incidents.through(candidate_id=candidate.pk, incident_id=incident.pk))
        return candidate

    if new:
        # Registered in this very transaction: no other can have linked or proposed it.
        return proposed()
    if ProblemIncident.objects.filter(incident=incident).exists():
        return None
    existing = Candidate.objects.select_for_update().filter(incident=incident).first()
    if existing is None:
        try:
            with transaction.atomic():
                return proposed()
        except IntegrityError:  # a concurrent transaction proposed it first
            return Candidate.objects.filter(incident=incident).first()
    if reason not in existing.reasons:
        existing.reasons = [*existing.reasons, reason]
        existing.updated_at = now
        existing.save(update_fields=["reasons", "updated_at"])
    return existing


def settle_candidates_for(
    incidents: Iterable[Incident], *, problem: Problem, actor: User | None
) -> None:
    """Incidents that reached a problem: their open per-incident candidates are accepted."""
    ids = [i.pk for i in incidents]
    Candidate.objects.filter(incident_id__in=ids, state=State.OPEN).update(
        state=State.ACCEPTED, problem=problem, decided_at=clock.now(), decided_by=actor,
        updated_at=clock.now(),
    )  # fmt: skip


def _lock(candidate: Candidate | int) -> Candidate:
    pk = candidate.pk if isinstance(candidate, Candidate) else candidate
    locked = Candidate.objects.select_for_update().filter(pk=pk).first()
    if locked is None:
        raise NotFound(f"Candidate {pk} does not exist.")
    if locked.state != State.OPEN:
        raise Conflict(f"The candidate is already {locked.state}.", status=locked.state, allowed=[])
    return locked


@transaction.atomic
def do_accept_candidate(
    *, candidate: Candidate | int, actor: User | None, problem: Problem | int | None = None,
    title: str = "", note: str = "", **fields: Any,
) -> Problem:  # fmt: skip
    """Send the candidate's incidents to problem control: open a new problem
    (``fields`` as for ``do_create_problem``) or link them to ``problem``."""
    permissions.require_manager(actor, "decide problem candidates")
    candidate = _lock(candidate)
    incidents = list(candidate.incidents.order_by("pk"))
    if problem is not None:
        target = services._lock(problem)
        for incident in incidents:
            if not ProblemIncident.objects.filter(incident=incident).exists():
                services.do_link_incident(problem=target, incident=incident, actor=actor)
    else:
        fields.setdefault("description", _describe(candidate))
        target = services.do_create_problem(
            actor=actor, title=title.strip() or candidate.title, source=candidate.source,
            incidents=[
                i for i in incidents if not ProblemIncident.objects.filter(incident=i).exists()
            ],
            candidate_id=candidate.pk, **fields,
        )  # fmt: skip
    settle_candidates_for(incidents, problem=target, actor=actor)
    candidate.refresh_from_db()
    candidate.state, candidate.problem = State.ACCEPTED, target
    candidate.decided_at, candidate.decided_by, candidate.decision_note = clock.now(), actor, note
    candidate.updated_at = clock.now()
    candidate.save()
    return target


def _describe(candidate: Candidate) -> str:
    lines = [f"Proposed by {candidate.get_source_display()}."]
    lines += [f"- {reason}" for reason in candidate.reasons]
    return "\n".join(lines)


@transaction.atomic
def do_dismiss_candidate(
    *, candidate: Candidate | int, actor: User | None, note: str = ""
) -> Candidate:
    """Not a problem (a one-off, already understood): the candidate is closed."""
    permissions.require_manager(actor, "decide problem candidates")
    candidate = _lock(candidate)
    candidate.state, candidate.decided_at, candidate.decided_by = (
        State.DISMISSED,
        clock.now(),
        actor,
    )
    candidate.decision_note, candidate.updated_at = note, clock.now()
    candidate.save()
    return candidate


# ---- the daily review queue -----------------------------------------------------------


def review_queue(*, hours: int | None = None, include_decided: bool = False) -> QuerySet[Incident]:
    """Recent incidents (opened within ``hours``) not linked to any problem and,
    unless ``include_decided``, not already dismissed at an earlier review."""
    since = clock.now() - timedelta(hours=hours or conf.review_hours())
    qs = Incident.objects.filter(opened_at__gte=since).exclude(
        Exists(ProblemIncident.objects.filter(incident=OuterRef("pk")))
    )
    if not include_decided:
        qs = qs.exclude(
            Exists(Candidate.objects.filter(incident=OuterRef("pk"), state=State.DISMISSED))
        )
    return qs.select_related(
        "service", "configuration_item", "category", "assigned_group"
    ).order_by("severity", "-support_level", "-id")


def _incidents(ids: Sequence[int]) -> list[Incident]:
    if not ids:
        raise FieldError("incidents", "name at least one incident")
    found = {i.pk: i for i in Incident.objects.filter(pk__in=list(ids))}
    missing = [pk for pk in ids if pk not in found]
    if missing:
        raise FieldError("incidents", f"no incident with id {missing[0]}")
    return [found[pk] for pk in ids]


@transaction.atomic
def do_send_to_problem_control(
    *, incidents: Sequence[int], actor: User | None, problem: Problem | int | None = None,
    title: str = "", set_pending: bool = False, **fields: Any,
) -> Problem:  # fmt: skip
    """The review meeting's decision: these incidents go to a new problem (or to
    an existing one). Their open candidates are accepted."""
    permissions.require_manager(actor, "send incidents to problem control")
    chosen = _incidents(incidents)
    if problem is not None:
        target = services._lock(problem)
        for incident in chosen:
            services.do_link_incident(
                problem=target, incident=incident, actor=actor, set_pending=set_pending
            )
    else:
        target = services.do_create_problem(
            actor=actor, title=title.strip() or chosen[0].title, source=Source.REVIEW,
            incidents=chosen, set_pending=set_pending, **fields,
        )  # fmt: skip
    settle_candidates_for(chosen, problem=target, actor=actor)
    return target


@transaction.atomic
def do_dismiss_from_review(*, incidents: Sequence[int], actor: User | None, note: str = "") -> int:
    """The review meeting saw these incidents and sends none of them on: they
    leave the queue (a dismissed candidate records the decision)."""
    permissions.require_manager(actor, "review incidents")
    now = clock.now()
    count = 0
    for incident in _incidents(incidents):
        candidate = Candidate.objects.select_for_update().filter(incident=incident).first()
        if candidate is None:
            candidate = Candidate.objects.create(
                source=Source.REVIEW, incident=incident, title=incident.title,
                reasons=["seen at the review meeting"], created_at=now, updated_at=now,
            )  # fmt: skip
            candidate.incidents.add(incident)
        if candidate.state == State.OPEN:
            candidate.state, candidate.decided_at, candidate.decided_by = (
                State.DISMISSED,
                now,
                actor,
            )
            candidate.decision_note, candidate.updated_at = note, now
            candidate.save()
            count += 1
    return count
