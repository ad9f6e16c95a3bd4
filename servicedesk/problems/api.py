"""REST endpoints of problem control: parse, call a service, serialise.

Static paths (``/problems/portfolio``, ``/problems/review-queue``,
``/problems/trends``, ``/problems/candidates``) are declared before
``/problems/{problem_id}``.
"""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from ninja import Path, Query, Router, Status

from servicedesk.accounts.models import SupportGroup, User
from servicedesk.catalog.models import Category, ConfigurationItem, Service, Technology, UserGroup
from servicedesk.core import clock, idempotency
from servicedesk.core.errors import FieldError, NotFound
from servicedesk.core.http import etag, expected_version
from servicedesk.core.lookups import resolve
from servicedesk.core.pagination import keyset_page
from servicedesk.core.schemas import ERRORS, WRITE_ERRORS, PageOut, ref
from servicedesk.incidents.models import Incident

from . import candidates, rca, scoring, selectors, services, trends
from .models import (
    Candidate,
    FollowUpAction,
    Problem,
    ProblemIncident,
    ProblemReview,
    ProblemSpan,
)
from .schemas import (
    AcceptIn,
    ActionIn,
    AssignIn,
    CandidateFilterIn,
    CandidateOut,
    CommentIn,
    DismissIn,
    EventOut,
    FiveWhysIn,
    IshikawaIn,
    KepnerTregoeIn,
    LinkedIncidentOut,
    LinkIn,
    OptionalReasonIn,
    ParetoRowOut,
    PortfolioFilterIn,
    PortfolioItemOut,
    ProblemFilterIn,
    ProblemIn,
    ProblemOut,
    ProblemPatch,
    RcaOut,
    ReasonIn,
    ResolutionIn,
    ReviewDismissIn,
    ReviewIn,
    ReviewOut,
    ReviewQueueFilterIn,
    ReviewQueueItemOut,
    RootCauseIn,
    ScoreOut,
    SendIn,
    SpanOut,
    TrendRulesBody,
    TrendRulesIn,
    TrendsOut,
    WorkaroundIn,
    linked_count,
    problem_out,
)

router = Router(tags=["problems"])

PathId = Annotated[int, Path(ge=1, le=2_147_483_647)]


def _user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined]


def _respond(request: HttpRequest, response: HttpResponse, pk: int) -> dict[str, Any]:
    problem = selectors.get_problem(_user(request), pk)
    response["ETag"] = etag(problem.pk, problem.version)
    return problem_out(problem)


def _visible(request: HttpRequest, pk: int) -> int:
    if not selectors.problems(_user(request)).filter(pk=pk).exists():
        raise NotFound(f"Problem {pk} does not exist.")
    return pk


def _required(user: User | None) -> User:
    assert user is not None  # resolve() returns None only for a None id
    return user


def _many(model: type, ids: list[int], field: str) -> list[Any]:
    return [resolve(model, pk, field) for pk in dict.fromkeys(ids)]


# ---- list and create ------------------------------------------------------------------------


@router.get("/problems", response={200: PageOut[ProblemOut], **ERRORS})
def list_problems(request: HttpRequest, filters: Query[ProblemFilterIn]) -> dict[str, Any]:
    """Problems, newest first, cursor-paginated (support staff only)."""
    data = filters.dict(exclude={"cursor", "limit"})
    qs = selectors.ProblemFilter(**data).apply(selectors.problems(_user(request)))
    rows, next_cursor = selectors.page(qs, cursor=filters.cursor, limit=filters.limit)
    return {"items": [problem_out(p) for p in rows], "next": next_cursor}


@router.post("/problems", response={201: ProblemOut, **WRITE_ERRORS})
def create_problem(request: HttpRequest, response: HttpResponse, payload: ProblemIn) -> Any:
    """Open a problem by hand. Send an ``Idempotency-Key`` header to make retries safe."""
    user = _user(request)
    selectors.require_staff(user)

    def create() -> tuple[int, dict[str, Any]]:
        problem = services.do_create_problem(
            actor=user, title=payload.title, description=payload.description,
            technology=resolve(Technology, payload.technology, "technology"),
            service=resolve(Service, payload.service, "service"),
            category=resolve(Category, payload.category, "category"),
            configuration_items=_many(ConfigurationItem, payload.configuration_items, "configuration_items"),
            user_groups=_many(UserGroup, payload.user_groups, "user_groups"),
            priority=payload.priority, major=payload.major, users_affected=payload.users_affected,
            business_impact=payload.business_impact, cost_estimate=payload.cost_estimate,
            cause_estimate_hours=payload.cause_estimate_hours,
            owner_group=resolve(SupportGroup, payload.owner_group, "owner_group", is_active=True),
            owner=resolve(User, payload.owner, "owner", is_active=True),
            team=_many(User, payload.team, "team"),
            incidents=_many(Incident, payload.incidents, "incidents"),
            set_pending=payload.set_pending,
        )  # fmt: skip
        body = ProblemOut.model_validate(problem_out(selectors.get_problem(user, problem.pk)))
        return 201, body.model_dump(mode="json")

    status, body, _ = idempotency.run(
        user=user, key=request.headers.get("Idempotency-Key"), scope="POST /problems",
        body=request.body, create=create,
    )  # fmt: skip
    response["ETag"] = etag(body["id"], body["version"])
    response["Location"] = f"/api/v1/problems/{body['id']}"
    return Status(status, body)


# ---- portfolio ----------------------------------------------------------------------------


@router.get("/problems/portfolio", response={200: PageOut[PortfolioItemOut], **ERRORS})
def portfolio(request: HttpRequest, filters: Query[PortfolioFilterIn]) -> dict[str, Any]:
    """Open problems ranked by selection score, with time spent against the estimate."""
    items = []
    now = clock.now()
    for rank, problem in enumerate(
        selectors.portfolio(_user(request), filters.status, filters.limit), start=1
    ):
        hours = services.investigation_hours(problem, now)
        items.append({
            "rank": rank, "problem": ref(problem), "status": problem.status,
            "priority": problem.priority, "score": problem.score,
            "linked_incidents": linked_count(problem),
            "cause_estimate_hours": problem.cause_estimate_hours,
            "investigation_hours": round(hours, 2),
            "progress_percent": round(100 * hours / max(1, problem.cause_estimate_hours), 1),
            "overrun": hours > problem.cause_estimate_hours,
            "support_level": problem.support_level, "assigned_group": ref(problem.assigned_group),
        })  # fmt: skip
    return {"items": items, "next": None}


@router.get("/problems/selection-factors", response={200: list[dict[str, Any]], **ERRORS})
def selection_factors(request: HttpRequest) -> Any:
    """The weighted selection criteria (edited in the admin)."""
    selectors.require_staff(_user(request))
    return [{"key": k, "weight": w, "cap": c} for k, (w, c) in scoring.factors().items()]


# ---- candidates and the review queue ----------------------------------------------------


def _candidate_out(candidate: Candidate) -> dict[str, Any]:
    return {
        "id": candidate.pk, "source": candidate.source, "state": candidate.state,
        "title": candidate.title, "incident": ref(candidate.incident),
        "incidents": [ref(i) for i in candidate.incidents.all()], "reasons": candidate.reasons,
        "evidence": candidate.evidence, "problem": ref(candidate.problem),
        "created_at": candidate.created_at, "updated_at": candidate.updated_at,
        "decided_at": candidate.decided_at, "decided_by": ref(candidate.decided_by),
        "decision_note": candidate.decision_note,
    }  # fmt: skip


def _candidates(request: HttpRequest) -> Any:
    selectors.require_staff(_user(request))
    return Candidate.objects.select_related("incident", "problem", "decided_by").prefetch_related(
        "incidents"
    )


@router.get("/problems/candidates", response={200: PageOut[CandidateOut], **ERRORS})
def list_candidates(request: HttpRequest, filters: Query[CandidateFilterIn]) -> dict[str, Any]:
    """Problem candidates (automatic, review, trend), newest first."""
    qs = _candidates(request)
    if filters.state:
        qs = qs.filter(state__in=filters.state)
    if filters.source:
        qs = qs.filter(source__in=filters.source)
    rows, next_cursor = keyset_page(qs, cursor=filters.cursor, limit=filters.limit)
    return {"items": [_candidate_out(c) for c in rows], "next": next_cursor}


@router.get("/problems/candidates/{candidate_id}", response={200: CandidateOut, **ERRORS})
def get_candidate(request: HttpRequest, candidate_id: PathId) -> Any:
    candidate = _candidates(request).filter(pk=candidate_id).first()
    if candidate is None:
        raise NotFound(f"Candidate {candidate_id} does not exist.")
    return _candidate_out(candidate)


@router.post(
    "/problems/candidates/{candidate_id}/accept", response={200: ProblemOut, **WRITE_ERRORS}
)
def accept_candidate(
    request: HttpRequest, response: HttpResponse, candidate_id: PathId, payload: AcceptIn
) -> Any:
    """Open a problem from the candidate (or link its incidents to ``problem``)."""
    extra: dict[str, Any] = {}
    if payload.problem is None:
        extra = {"priority": payload.priority, "cause_estimate_hours": payload.cause_estimate_hours}
    problem = candidates.do_accept_candidate(
        candidate=candidate_id, actor=_user(request),
        problem=resolve(Problem, payload.problem, "problem"),
        title=payload.title, note=payload.note, **extra,
    )  # fmt: skip
    return _respond(request, response, problem.pk)


@router.post(
    "/problems/candidates/{candidate_id}/dismiss", response={200: CandidateOut, **WRITE_ERRORS}
)
def dismiss_candidate(request: HttpRequest, candidate_id: PathId, payload: DismissIn) -> Any:
    candidates.do_dismiss_candidate(candidate=candidate_id, actor=_user(request), note=payload.note)
    return _candidate_out(_candidates(request).get(pk=candidate_id))


@router.get("/problems/review-queue", response={200: PageOut[ReviewQueueItemOut], **ERRORS})
def review_queue(request: HttpRequest, filters: Query[ReviewQueueFilterIn]) -> dict[str, Any]:
    """The daily review: recent incidents not linked to a problem (severity first),
    each with its open candidate if one was proposed automatically."""
    selectors.require_staff(_user(request))
    incidents = candidates.review_queue(
        hours=filters.hours, include_decided=filters.include_decided
    )
    ordered = list(incidents[: filters.limit])
    by_incident = {
        c.incident_id: c for c in _candidates(request).filter(incident__in=[i.pk for i in ordered])
    }
    items = [
        {
            "incident": ref(i), "status": i.status, "severity": i.severity,
            "support_level": i.support_level, "service": ref(i.service),
            "configuration_item": ref(i.configuration_item), "category": ref(i.category),
            "assigned_group": ref(i.assigned_group), "opened_at": i.opened_at,
            "candidate": _candidate_out(by_incident[i.pk]) if i.pk in by_incident else None,
        }
        for i in ordered
    ]  # fmt: skip
    return {"items": items, "next": None}


@router.post("/problems/review-queue/send", response={200: ProblemOut, **WRITE_ERRORS})
def send_to_problem_control(request: HttpRequest, response: HttpResponse, payload: SendIn) -> Any:
    """The review meeting sends incidents to a new problem (or to ``problem``)."""
    extra: dict[str, Any] = {}
    if payload.problem is None:
        extra = {"priority": payload.priority, "cause_estimate_hours": payload.cause_estimate_hours}
    problem = candidates.do_send_to_problem_control(
        incidents=payload.incidents, actor=_user(request),
        problem=resolve(Problem, payload.problem, "problem"), title=payload.title,
        set_pending=payload.set_pending, **extra,
    )  # fmt: skip
    return _respond(request, response, problem.pk)


@router.post("/problems/review-queue/dismiss", response={200: dict[str, int], **WRITE_ERRORS})
def dismiss_from_review(request: HttpRequest, payload: ReviewDismissIn) -> Any:
    """The review meeting sends these incidents nowhere: they leave the queue."""
    count = candidates.do_dismiss_from_review(
        incidents=payload.incidents, actor=_user(request), note=payload.note
    )
    return {"dismissed": count}


# ---- trends ------------------------------------------------------------------------------


def _trends_out(
    rules: trends.Rules, found: list[tuple[trends.Cluster, Candidate | None]]
) -> dict[str, Any]:
    return {
        "rules": rules.as_dict(),
        "items": [
            {"rule": c.rule, "key": c.key, "label": c.label, "count": len(c.incidents),
             "incidents": [ref(i) for i in c.incidents], "first_opened_at": c.first_opened_at,
             "last_opened_at": c.last_opened_at, "shared_terms": c.shared_terms,
             "explanation": c.explanation(rules), "candidate": cand.pk if cand else None}
            for c, cand in found
        ],
        "next": None,
    }  # fmt: skip


@router.get("/problems/trends", response={200: TrendsOut, **ERRORS})
def find_trends(request: HttpRequest, filters: Query[TrendRulesIn]) -> Any:
    """Clusters among recent closed incidents not linked to a problem or known error,
    by the configured rules (each overridable here). Nothing is recorded."""
    selectors.require_staff(_user(request))
    rules = trends.rules(**filters.dict())
    clusters = trends.find_clusters(rules)
    open_by_fingerprint = {
        c.fingerprint: c
        for c in Candidate.objects.filter(
            state=Candidate.State.OPEN, fingerprint__in=[c.fingerprint for c in clusters]
        )
    }
    return _trends_out(rules, [(c, open_by_fingerprint.get(c.fingerprint)) for c in clusters])


@router.post("/problems/trends", response={200: TrendsOut, **WRITE_ERRORS})
def propose_trends(request: HttpRequest, payload: TrendRulesBody | None = None) -> Any:
    """Run the analysis now and propose the clusters as problem candidates
    (what the daily job does)."""
    from . import permissions

    permissions.require_manager(_user(request), "propose trend candidates")
    rules = trends.rules(**(payload.dict() if payload else {}))
    proposed = trends.propose(rules)
    return _trends_out(rules, [(c, cand) for c, cand in proposed])


# ---- one problem ---------------------------------------------------------------------------


@router.get("/problems/{problem_id}", response={200: ProblemOut, **ERRORS})
def get_problem(request: HttpRequest, response: HttpResponse, problem_id: PathId) -> Any:
    return _respond(request, response, problem_id)


@router.patch("/problems/{problem_id}", response={200: ProblemOut, **WRITE_ERRORS})
def update_problem(
    request: HttpRequest, response: HttpResponse, problem_id: PathId, payload: ProblemPatch
) -> Any:
    """Change fields. Send ``If-Match`` with the ETag you read to avoid lost updates."""
    pk = _visible(request, problem_id)
    services.do_update_problem(
        problem=pk, actor=_user(request), changes=payload.dict(exclude_unset=True),
        expected_version=expected_version(request, pk),
    )  # fmt: skip
    return _respond(request, response, pk)


def _action(request: HttpRequest, response: HttpResponse, pk: int, verb: Any, **kwargs: Any) -> Any:
    _visible(request, pk)
    verb(problem=pk, actor=_user(request), expected_version=expected_version(request, pk), **kwargs)
    return _respond(request, response, pk)


@router.post("/problems/{problem_id}/investigate", response={200: ProblemOut, **WRITE_ERRORS})
def investigate(
    request: HttpRequest,
    response: HttpResponse,
    problem_id: PathId,
    payload: CommentIn | None = None,
) -> Any:
    """Start, resume (from deferred) or reopen the search for the cause."""
    return _action(request, response, problem_id, services.do_start_investigation,
                   comment=payload.comment if payload else "")  # fmt: skip


@router.post("/problems/{problem_id}/defer", response={200: ProblemOut, **WRITE_ERRORS})
def defer(
    request: HttpRequest, response: HttpResponse, problem_id: PathId, payload: ReasonIn
) -> Any:
    """Not chosen for investigation now (problem managers); resumable."""
    return _action(request, response, problem_id, services.do_defer, reason=payload.reason)


@router.post("/problems/{problem_id}/root-cause", response={200: ProblemOut, **WRITE_ERRORS})
def root_cause(
    request: HttpRequest, response: HttpResponse, problem_id: PathId, payload: RootCauseIn
) -> Any:
    """Record the root cause (a known error is created); with ``workaround`` it is
    published at once."""
    pk = _visible(request, problem_id)
    user = _user(request)
    services.do_record_root_cause(
        problem=pk, actor=user, root_cause=payload.root_cause, symptoms=payload.symptoms,
        create_known_error=payload.create_known_error or payload.workaround is not None,
        expected_version=expected_version(request, pk),
    )  # fmt: skip
    if payload.workaround:
        services.do_publish_workaround(
            problem=pk, actor=user, workaround=payload.workaround, audience=payload.audience
        )
    return _respond(request, response, pk)


@router.post("/problems/{problem_id}/workaround", response={200: ProblemOut, **WRITE_ERRORS})
def workaround(
    request: HttpRequest, response: HttpResponse, problem_id: PathId, payload: WorkaroundIn
) -> Any:
    """Publish the workaround on the problem's known error and tell all support levels."""
    return _action(request, response, problem_id, services.do_publish_workaround,
                   workaround=payload.workaround, audience=payload.audience)  # fmt: skip


@router.post("/problems/{problem_id}/resolve", response={200: ProblemOut, **WRITE_ERRORS})
def resolve_problem(
    request: HttpRequest, response: HttpResponse, problem_id: PathId, payload: ResolutionIn
) -> Any:
    return _action(
        request, response, problem_id, services.do_resolve, resolution=payload.resolution
    )


@router.post("/problems/{problem_id}/close", response={200: ProblemOut, **WRITE_ERRORS})
def close(
    request: HttpRequest, response: HttpResponse, problem_id: PathId,
    payload: OptionalReasonIn | None = None,
) -> Any:  # fmt: skip
    """Close a resolved problem, or withdraw an unresolved one with a reason (managers)."""
    return _action(request, response, problem_id, services.do_close,
                   reason=payload.reason if payload else "")  # fmt: skip


@router.post("/problems/{problem_id}/assign", response={200: ProblemOut, **WRITE_ERRORS})
def assign(
    request: HttpRequest, response: HttpResponse, problem_id: PathId, payload: AssignIn
) -> Any:
    return _action(
        request, response, problem_id, services.do_assign,
        group=resolve(SupportGroup, payload.group, "group"),
        assignee=resolve(User, payload.assignee, "assignee"),
    )  # fmt: skip


@router.post("/problems/{problem_id}/escalate", response={200: ProblemOut, **WRITE_ERRORS})
def escalate(
    request: HttpRequest, response: HttpResponse, problem_id: PathId,
    payload: OptionalReasonIn | None = None,
) -> Any:  # fmt: skip
    """To the next support level's group for the technology (409 when there is none)."""
    return _action(request, response, problem_id, services.do_escalate,
                   reason=payload.reason if payload else "")  # fmt: skip


@router.post("/problems/{problem_id}/de-escalate", response={200: ProblemOut, **WRITE_ERRORS})
def de_escalate(
    request: HttpRequest, response: HttpResponse, problem_id: PathId,
    payload: OptionalReasonIn | None = None,
) -> Any:  # fmt: skip
    return _action(request, response, problem_id, services.do_de_escalate,
                   reason=payload.reason if payload else "")  # fmt: skip


@router.get("/problems/{problem_id}/timeline", response={200: list[EventOut], **ERRORS})
def timeline(request: HttpRequest, problem_id: PathId) -> Any:
    problem = selectors.get_problem(_user(request), problem_id)
    return [
        {"id": e.pk, "type": e.type, "actor": ref(e.actor), "at": e.at, "payload": e.payload}
        for e in problem.events.select_related("actor").order_by("id")
    ]


@router.get("/problems/{problem_id}/spans", response={200: list[SpanOut], **ERRORS})
def spans(request: HttpRequest, problem_id: PathId) -> Any:
    """Who held the problem when: time per group and support level (Table 2)."""
    problem = selectors.get_problem(_user(request), problem_id)
    return [
        {"group": ref(s.group), "support_level": s.support_level, "started_at": s.started_at,
         "ended_at": s.ended_at, "end_reason": s.end_reason, "duration_seconds": s.duration_seconds}
        for s in ProblemSpan.objects.filter(problem=problem).select_related("group")
    ]  # fmt: skip


@router.get("/problems/{problem_id}/score", response={200: ScoreOut, **ERRORS})
def score(request: HttpRequest, problem_id: PathId) -> Any:
    """The selection score and what each weighted factor contributed."""
    problem = selectors.get_problem(_user(request), problem_id)
    total, parts = scoring.breakdown(problem)
    return {"score": total, "factors": [p.__dict__ for p in parts]}


# ---- incidents -----------------------------------------------------------------------------


def _link_out(link: ProblemIncident) -> dict[str, Any]:
    i = link.incident
    return {"incident": ref(i), "status": i.status, "severity": i.severity,
            "category": ref(i.category), "configuration_item": ref(i.configuration_item),
            "opened_at": i.opened_at, "linked_at": link.linked_at, "linked_by": ref(link.linked_by)}  # fmt: skip


@router.get("/problems/{problem_id}/incidents", response={200: list[LinkedIncidentOut], **ERRORS})
def list_incidents(request: HttpRequest, problem_id: PathId) -> Any:
    problem = selectors.get_problem(_user(request), problem_id)
    links = ProblemIncident.objects.filter(problem=problem).select_related(
        "incident__category", "incident__configuration_item", "linked_by"
    )
    return [_link_out(link) for link in links]


@router.post("/problems/{problem_id}/incidents", response={201: LinkedIncidentOut, **WRITE_ERRORS})
def link_incident(request: HttpRequest, problem_id: PathId, payload: LinkIn) -> Any:
    """Link an incident (one problem per incident; 409 if linked elsewhere);
    ``set_pending`` makes an open incident wait for the problem."""
    pk = _visible(request, problem_id)
    link = services.do_link_incident(
        problem=pk, incident=payload.incident, actor=_user(request),
        set_pending=payload.set_pending, comment=payload.comment,
    )  # fmt: skip
    link = ProblemIncident.objects.select_related(
        "incident__category", "incident__configuration_item", "linked_by"
    ).get(pk=link.pk)
    return Status(201, _link_out(link))


@router.delete(
    "/problems/{problem_id}/incidents/{incident_id}", response={204: None, **WRITE_ERRORS}
)
def unlink_incident(request: HttpRequest, problem_id: PathId, incident_id: PathId) -> Any:
    pk = _visible(request, problem_id)
    services.do_unlink_incident(problem=pk, incident=incident_id, actor=_user(request))
    return Status(204, None)


# ---- root-cause analysis ------------------------------------------------------------------


def _rca_out(problem: Any) -> dict[str, Any]:
    return {
        "ishikawa": rca.ishikawa(problem),
        "five_whys": rca.five_whys(problem),
        "kepner_tregoe": rca.kepner_tregoe(problem),
        "pareto": {
            by: [r.__dict__ for r in rca.pareto(problem, by)] for by in rca.PARETO_DIMENSIONS
        },
    }


@router.get("/problems/{problem_id}/rca", response={200: RcaOut, **ERRORS})
def get_rca(request: HttpRequest, problem_id: PathId) -> Any:
    """All RCA artefacts, and the Pareto analyses of the linked incidents (computed)."""
    return _rca_out(selectors.get_problem(_user(request), problem_id))


@router.put("/problems/{problem_id}/rca/ishikawa", response={200: RcaOut, **WRITE_ERRORS})
def put_ishikawa(request: HttpRequest, problem_id: PathId, payload: IshikawaIn) -> Any:
    pk = _visible(request, problem_id)
    rca.do_set_ishikawa(problem=pk, actor=_user(request),
                        categories=payload.model_dump()["categories"])  # fmt: skip
    return _rca_out(selectors.get_problem(_user(request), pk))


@router.put("/problems/{problem_id}/rca/five-whys", response={200: RcaOut, **WRITE_ERRORS})
def put_five_whys(request: HttpRequest, problem_id: PathId, payload: FiveWhysIn) -> Any:
    pk = _visible(request, problem_id)
    rca.do_set_five_whys(problem=pk, actor=_user(request), steps=payload.model_dump()["steps"])
    return _rca_out(selectors.get_problem(_user(request), pk))


@router.put("/problems/{problem_id}/rca/kepner-tregoe", response={200: RcaOut, **WRITE_ERRORS})
def put_kepner_tregoe(request: HttpRequest, problem_id: PathId, payload: KepnerTregoeIn) -> Any:
    pk = _visible(request, problem_id)
    rows = [row.model_dump(by_alias=True) for row in payload.rows]
    rca.do_set_kepner_tregoe(problem=pk, actor=_user(request), rows=rows)
    return _rca_out(selectors.get_problem(_user(request), pk))


@router.get("/problems/{problem_id}/rca/pareto", response={200: list[ParetoRowOut], **ERRORS})
def pareto(request: HttpRequest, problem_id: PathId, by: str = "category") -> Any:
    """Linked incidents by ``category``, ``configuration_item``, ``service`` or ``symptom``."""
    if len(by) > 40:
        raise FieldError(["query", "by"], "unknown dimension")
    return [r.__dict__ for r in rca.pareto(selectors.get_problem(_user(request), problem_id), by)]


# ---- reviews -------------------------------------------------------------------------------


def _review_out(review: ProblemReview) -> dict[str, Any]:
    now = clock.now()
    return {
        "id": review.pk, "held_at": review.held_at,
        "participants": [ref(u) for u in review.participants.all()],
        "went_well": review.went_well, "went_wrong": review.went_wrong, "lessons": review.lessons,
        "created_by": ref(review.created_by),
        "actions": [
            {"id": a.pk, "title": a.title, "owner": ref(a.owner), "due_at": a.due_at,
             "done_at": a.done_at, "overdue": a.done_at is None and a.due_at is not None and a.due_at < now}
            for a in review.actions.select_related("owner")
        ],
    }  # fmt: skip


@router.get("/problems/{problem_id}/reviews", response={200: list[ReviewOut], **ERRORS})
def list_reviews(request: HttpRequest, problem_id: PathId) -> Any:
    problem = selectors.get_problem(_user(request), problem_id)
    reviews = ProblemReview.objects.filter(problem=problem).select_related("created_by")
    return [_review_out(r) for r in reviews.prefetch_related("participants")]


@router.post("/problems/{problem_id}/reviews", response={201: ReviewOut, **WRITE_ERRORS})
def record_review(request: HttpRequest, problem_id: PathId, payload: ReviewIn) -> Any:
    """Record a problem review with follow-up actions (each with an owner)."""
    pk = _visible(request, problem_id)
    review = rca.do_record_review(
        problem=pk, actor=_user(request), held_at=payload.held_at,
        participants=_many(User, payload.participants, "participants"),
        went_well=payload.went_well, went_wrong=payload.went_wrong, lessons=payload.lessons,
        actions=[{"title": a.title, "owner": resolve(User, a.owner, "actions"), "due_at": a.due_at}
                 for a in payload.actions],
    )  # fmt: skip
    return Status(201, _review_out(review))


def _review(problem_id: int, review_id: int) -> ProblemReview:
    review = ProblemReview.objects.filter(pk=review_id, problem_id=problem_id).first()
    if review is None:
        raise NotFound(f"Review {review_id} does not exist on this problem.")
    return review


@router.post(
    "/problems/{problem_id}/reviews/{review_id}/actions", response={201: ReviewOut, **WRITE_ERRORS}
)
def add_follow_up(request: HttpRequest, problem_id: PathId, review_id: PathId,
                  payload: ActionIn) -> Any:  # fmt: skip
    """Add a follow-up action (with its owner) to a review."""
    pk = _visible(request, problem_id)
    review = _review(pk, review_id)
    rca.do_add_follow_up(
        review=review, actor=_user(request), title=payload.title,
        owner=_required(resolve(User, payload.owner, "owner")), due_at=payload.due_at,
    )  # fmt: skip
    return Status(201, _review_out(review))


@router.post(
    "/problems/{problem_id}/reviews/{review_id}/actions/{action_id}/done",
    response={200: ReviewOut, **WRITE_ERRORS},
)
def complete_follow_up(request: HttpRequest, problem_id: PathId, review_id: PathId,
                       action_id: PathId) -> Any:  # fmt: skip
    """The owner (or the problem's workers) marks a follow-up action done."""
    pk = _visible(request, problem_id)
    review = _review(pk, review_id)
    action = FollowUpAction.objects.filter(pk=action_id, review=review).first()
    if action is None:
        raise NotFound(f"Action {action_id} does not exist on this review.")
    rca.do_complete_follow_up(action=action, actor=_user(request))
    return _review_out(review)
