"""Root-cause analysis as data, and problem reviews (issue 4).

Artefacts attached to a problem: an Ishikawa (fishbone) diagram, a 5 whys
chain and a Kepner-Tregoe is / is-not specification, each replaced as a
whole by its verb (one timeline event ``rca_updated``); the Pareto analysis
of the linked incidents is computed, never stored. Reviews record what went
well, what went wrong, lessons and follow-up actions with owners.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction

from servicedesk.accounts.models import User
from servicedesk.core import clock
from servicedesk.core.errors import FieldError, NotFound
from servicedesk.knownerrors import text as textmod

from . import permissions, services, transitions
from .models import (
    FollowUpAction,
    IshikawaCause,
    KepnerTregoeRow,
    Problem,
    ProblemIncident,
    ProblemReview,
    WhyStep,
)

# The classic categories (6M, adapted to IT); any other name is allowed too.
ISHIKAWA_CATEGORIES = ("people", "process", "technology", "data", "environment", "measurement")
MAX_DEPTH = 3
MAX_ENTRIES = 200


def _start(problem: Problem | int, actor: User | None) -> Problem:
    problem = services._lock(problem)
    permissions.require_work(actor, problem)
    if problem.status == "closed":
        transitions.check_open(problem.status, "rca_updated")
    return problem


@transaction.atomic
def do_set_ishikawa(*, problem: Problem | int, actor: User | None,
                    categories: Sequence[dict[str, Any]]) -> Problem:  # fmt: skip
    """Replace the fishbone: ``[{"name", "causes": [{"text", "root_cause",
    "sub_causes": [...]}]}]`` (causes nest up to three levels)."""
    problem = _start(problem, actor)
    IshikawaCause.objects.filter(problem=problem).delete()
    position = 0

    def add(category: str, causes: Sequence[dict[str, Any]], parent: IshikawaCause | None,
            depth: int) -> None:  # fmt: skip
        nonlocal position
        if depth > MAX_DEPTH:
            raise FieldError("categories", f"causes nest at most {MAX_DEPTH} levels deep")
        for cause in causes:
            text = str(cause.get("text", "")).strip()
            if not text:
                raise FieldError("categories", "every cause needs a text")
            position += 1
            if position > MAX_ENTRIES:
                raise FieldError("categories", f"at most {MAX_ENTRIES} causes")
            row = IshikawaCause.objects.create(
                problem=problem, category=category, text=text[:500], parent=parent,
                is_root_cause=bool(cause.get("root_cause", False)), position=position,
            )  # fmt: skip
            add(category, cause.get("sub_causes") or [], row, depth + 1)

    for entry in categories:
        name = str(entry.get("name", "")).strip().lower()
        if not name:
            raise FieldError("categories", "every category needs a name")
        add(name[:60], entry.get("causes") or [], None, 1)
    services.append_event(
        problem, "rca_updated", actor=actor, payload={"artefact": "ishikawa", "entries": position}
    )
    return problem


@transaction.atomic
def do_set_five_whys(*, problem: Problem | int, actor: User | None,
                     steps: Sequence[dict[str, str]]) -> Problem:  # fmt: skip
    """Replace the 5 whys chain: ``[{"why", "because"}]`` in order (1 to 10 steps)."""
    if len(steps) > 10:
        raise FieldError("steps", "at most 10 steps")
    problem = _start(problem, actor)
    WhyStep.objects.filter(problem=problem).delete()
    for position, step in enumerate(steps, start=1):
        why, because = str(step.get("why", "")).strip(), str(step.get("because", "")).strip()
        if not why or not because:
            raise FieldError("steps", f"step {position} needs a why and a because")
        WhyStep.objects.create(problem=problem, position=position, question=why, answer=because)
    services.append_event(
        problem,
        "rca_updated",
        actor=actor,
        payload={"artefact": "five_whys", "entries": len(steps)},
    )
    return problem


@transaction.atomic
def do_set_kepner_tregoe(*, problem: Problem | int, actor: User | None,
                         rows: Sequence[dict[str, str]]) -> Problem:  # fmt: skip
    """Replace the is / is-not specification: ``[{"dimension": what|where|when|extent,
    "question", "is", "is_not", "distinctions", "changes"}]``."""
    if len(rows) > 40:
        raise FieldError("rows", "at most 40 rows")
    problem = _start(problem, actor)
    KepnerTregoeRow.objects.filter(problem=problem).delete()
    for position, row in enumerate(rows, start=1):
        dimension = row.get("dimension", "")
        if dimension not in KepnerTregoeRow.Dimension.values:
            raise FieldError(
                "rows", f"row {position}: dimension must be what, where, when or extent"
            )
        KepnerTregoeRow.objects.create(
            problem=problem, dimension=dimension, question=str(row.get("question", ""))[:300],
            is_text=row.get("is", ""), is_not_text=row.get("is_not", ""),
            distinctions=row.get("distinctions", ""), changes=row.get("changes", ""),
            position=position,
        )  # fmt: skip
    services.append_event(
        problem, "rca_updated", actor=actor,
        payload={"artefact": "kepner_tregoe", "entries": len(rows)},
    )  # fmt: skip
    return problem


# ---- reading -----------------------------------------------------------------------------


def ishikawa(problem: Problem) -> list[dict[str, Any]]:
    rows = list(IshikawaCause.objects.filter(problem=problem).order_by("position"))
    children: dict[int | None, list[IshikawaCause]] = defaultdict(list)
    for row in rows:
        children[row.parent_id].append(row)

    def tree(row: IshikawaCause) -> dict[str, Any]:
        return {"text": row.text, "root_cause": row.is_root_cause,
                "sub_causes": [tree(c) for c in children[row.pk]]}  # fmt: skip

    categories: dict[str, list[dict[str, Any]]] = {}
    for row in children[None]:
        categories.setdefault(row.category, []).append(tree(row))
    return [{"name": name, "causes": causes} for name, causes in categories.items()]


def five_whys(problem: Problem) -> list[dict[str, Any]]:
    return [{"position": s.position, "why": s.question, "because": s.answer}
            for s in WhyStep.objects.filter(problem=problem).order_by("position")]  # fmt: skip


def kepner_tregoe(problem: Problem) -> list[dict[str, Any]]:
    return [
        {"dimension": r.dimension, "question": r.question, "is": r.is_text,
         "is_not": r.is_not_text, "distinctions": r.distinctions, "changes": r.changes}
        for r in KepnerTregoeRow.objects.filter(problem=problem).order_by("position")
    ]  # fmt: skip


@dataclass(frozen=True)
class ParetoRow:
    key: str
    count: int
    percent: float
    cumulative_percent: float
    vital_few: bool


PARETO_DIMENSIONS = ("category", "configuration_item", "service", "symptom")
VITAL_FEW_SHARE = 80.0


def pareto(problem: Problem, by: str = "category", limit: int = 20) -> list[ParetoRow]:
    """Linked incidents counted by ``by``, largest first, with cumulative shares.
    Rows up to (and including) the one that reaches 80% are the "vital few".
    ``symptom``: the words of the incident titles (stemmed, each counted once
    per incident), shown as the most frequent spelling."""
    if by not in PARETO_DIMENSIONS:
        raise FieldError(["query", "by"], f"must be one of: {', '.join(PARETO_DIMENSIONS)}")
    links = ProblemIncident.objects.filter(problem=problem).select_related(
        "incident__category", "incident__configuration_item", "incident__service"
    )
    counts: Counter[str] = Counter()
    if by == "symptom":
        spellings: dict[str, Counter[str]] = defaultdict(Counter)
        for link in links:
            seen: set[str] = set()
            for word in textmod.words(link.incident.title):
                stem = textmod._stem_word(word)
                if stem is None:
                    continue
                spellings[stem][word] += 1
                seen.add(stem)
            counts.update(seen)
        labelled: Counter[str] = Counter(
            {spellings[stem].most_common(1)[0][0]: n for stem, n in counts.items()}
        )
        counts = labelled
    else:
        for link in links:
            value = getattr(link.incident, by)
            counts[str(value) if value is not None else "(none)"] += 1
    total = sum(counts.values())
    rows: list[ParetoRow] = []
    cumulative = 0
    reached = False
    for key, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]:
        cumulative += count
        share = 100 * cumulative / total
        rows.append(ParetoRow(key, count, round(100 * count / total, 1), round(share, 1),
                              not reached))  # fmt: skip
        reached = reached or share >= VITAL_FEW_SHARE
    return rows


# ---- reviews -------------------------------------------------------------------------------


def _action_rows(review: ProblemReview, actions: Sequence[dict[str, Any]]) -> list[FollowUpAction]:
    created = []
    for action in actions:
        title = str(action.get("title", "")).strip()
        owner = action.get("owner")
        if not title:
            raise FieldError("actions", "every follow-up action needs a title")
        if not isinstance(owner, User):
            raise FieldError("actions", "every follow-up action needs an owner")
        created.append(
            FollowUpAction.objects.create(
                review=review, title=title[:200], owner=owner, due_at=action.get("due_at")
            )
        )
    return created


@transaction.atomic
def do_record_review(
    *, problem: Problem | int, actor: User, held_at: datetime | None = None,
    participants: Sequence[User] = (), went_well: str = "", went_wrong: str = "",
    lessons: str = "", actions: Sequence[dict[str, Any]] = (),
) -> ProblemReview:  # fmt: skip
    """Record a problem review meeting (for major problems, SPEC 3 "major problem
    review"): ``actions`` are ``{"title", "owner": User, "due_at"}``."""
    problem = services._lock(problem)
    permissions.require_work(actor, problem)
    if not (went_well.strip() or went_wrong.strip() or lessons.strip()):
        raise FieldError("lessons", "record what went well, what went wrong or the lessons")
    review = ProblemReview.objects.create(
        problem=problem, held_at=held_at or clock.now(), went_well=went_well,
        went_wrong=went_wrong, lessons=lessons, created_by=actor, created_at=clock.now(),
    )  # fmt: skip
    review.participants.set(list(participants))
    created = _action_rows(review, actions)
    services.append_event(
        problem, "review_recorded", actor=actor,
        payload={"review_id": review.pk, "actions": len(created)},
    )  # fmt: skip
    return review


@transaction.atomic
def do_add_follow_up(*, review: ProblemReview | int, actor: User, title: str, owner: User,
                     due_at: datetime | None = None) -> FollowUpAction:  # fmt: skip
    review_obj = ProblemReview.objects.filter(pk=getattr(review, "pk", review)).first()
    if review_obj is None:
        raise NotFound(f"Review {review} does not exist.")
    problem = services._lock(review_obj.problem_id)
    permissions.require_work(actor, problem)
    (action,) = _action_rows(review_obj, [{"title": title, "owner": owner, "due_at": due_at}])
    services.append_event(
        problem, "review_recorded", actor=actor,
        payload={"review_id": review_obj.pk, "actions": review_obj.actions.count()},
    )  # fmt: skip
    return action


@transaction.atomic
def do_complete_follow_up(*, action: FollowUpAction | int, actor: User) -> FollowUpAction:
    # The problem first, then the action: every writer of a problem's records
    # locks in that order (the other order deadlocked against adding actions).
    pk: int = action.pk if isinstance(action, FollowUpAction) else action
    problem_id = (
        FollowUpAction.objects.filter(pk=pk).values_list("review__problem_id", flat=True).first()
    )
    if problem_id is None:
        raise NotFound(f"Follow-up action {action} does not exist.")
    problem = services._lock(problem_id)
    action_obj = FollowUpAction.objects.select_for_update().filter(pk=pk).first()
    if action_obj is None:
        raise NotFound(f"Follow-up action {action} does not exist.")
    if actor.pk != action_obj.owner_id:
        permissions.require_work(actor, problem)
    if action_obj.done_at is not None:
        return action_obj
    action_obj.done_at = clock.now()
    action_obj.save(update_fields=["done_at"])
    services.append_event(
        problem, "follow_up_done", actor=actor,
        payload={"review_id": action_obj.review_id, "action_id": action_obj.pk,
                 "title": action_obj.title},
    )  # fmt: skip
    return action_obj
