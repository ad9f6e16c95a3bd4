"""REST endpoints of error control: known errors, matching, applying workarounds,
fix projects. Parse, call a service, serialise."""

from __future__ import annotations

from typing import Annotated, Any

from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from ninja import Path, Query, Router, Status

from servicedesk.accounts.models import SupportGroup, User
from servicedesk.catalog.models import ConfigurationItem, Service, Technology
from servicedesk.core import clock, idempotency
from servicedesk.core.errors import FieldError, NotFound, PermissionDenied
from servicedesk.core.http import etag, expected_version
from servicedesk.core.lookups import one, resolve
from servicedesk.core.pagination import keyset_page
from servicedesk.core.schemas import ERRORS, WRITE_ERRORS, PageOut, ref
from servicedesk.incidents import selectors as incident_selectors
from servicedesk.problems.models import Problem

from . import fixes, monitoring, search, selectors, services
from .models import FixProject, KnownErrorIncident
from .schemas import (
    AppliedOut,
    ApplyIn,
    ApplyToIncidentIn,
    CausedIncidentOut,
    CloseIn,
    EventOut,
    FiguresFilterIn,
    FiguresOut,
    FixProjectFilterIn,
    FixProjectIn,
    FixProjectOut,
    FixProjectPatch,
    FixStatusIn,
    KnownErrorFilterIn,
    KnownErrorIn,
    KnownErrorOut,
    KnownErrorPatch,
    MatchesOut,
    MatchIn,
    PublishIn,
    StatusIn,
    TrendOut,
    WithdrawIn,
    fix_project_out,
    known_error_out,
)

router = Router(tags=["known errors"])

PathId = Annotated[int, Path(ge=1, le=2_147_483_647)]


def _user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined]


def _require_staff(user: User) -> None:
    if not selectors.is_staff(user):
        raise PermissionDenied("Only support staff may do that.")


def _respond(request: HttpRequest, response: HttpResponse, pk: int) -> dict[str, Any]:
    ke = selectors.get_known_error(_user(request), pk)
    response["ETag"] = etag(ke.pk, ke.version)
    return known_error_out(ke)


def _visible(request: HttpRequest, pk: int) -> int:
    if not selectors.known_errors(_user(request)).filter(pk=pk).exists():
        raise NotFound(f"Known error {pk} does not exist.")
    return pk


def _many(model: type[Model], ids: list[int], field: str) -> list[Any]:
    return [resolve(model, pk, field) for pk in dict.fromkeys(ids)]


def _by_id_or_name(model: type[Model], value: int | str | None, field: str) -> Any:
    if value is None or isinstance(value, int):
        return resolve(model, value, field)
    found = model._default_manager.filter(name=value).first()
    if found is None:
        raise FieldError(field, f"no {model._meta.verbose_name} named {value!r}")
    return found


# ---- the KEDB ------------------------------------------------------------------------------


@router.get("/known-errors", response={200: PageOut[KnownErrorOut], **ERRORS})
def list_known_errors(request: HttpRequest, filters: Query[KnownErrorFilterIn]) -> dict[str, Any]:
    """The KEDB, newest first. End users see workarounds published for the portal."""
    data = filters.dict(exclude={"cursor", "limit"})
    qs = selectors.KnownErrorFilter(**data).apply(selectors.known_errors(_user(request)))
    rows, next_cursor = keyset_page(qs, cursor=filters.cursor, limit=filters.limit)
    return {"items": [known_error_out(k) for k in rows], "next": next_cursor}


@router.post("/known-errors", response={201: KnownErrorOut, **WRITE_ERRORS})
def create_known_error(request: HttpRequest, response: HttpResponse, payload: KnownErrorIn) -> Any:
    """Register a known error (title, symptoms, root cause and workaround at least).
    Published for all support levels unless ``audience`` says otherwise."""
    user = _user(request)

    def create() -> tuple[int, dict[str, Any]]:
        ke = services.do_create_known_error(
            actor=user, title=payload.title, symptoms=payload.symptoms,
            root_cause=payload.root_cause, workaround=payload.workaround,
            permanent_fix=payload.permanent_fix, keywords=payload.keywords,
            problem=resolve(Problem, payload.problem, "problem"),
            technology=resolve(Technology, payload.technology, "technology"),
            services=_many(Service, payload.services, "services"),
            configuration_items=_many(ConfigurationItem, payload.configuration_items, "configuration_items"),
            error_codes=payload.error_codes, priority=payload.priority, audience=payload.audience,
        )  # fmt: skip
        body = KnownErrorOut.model_validate(known_error_out(selectors.get_known_error(user, ke.pk)))
        return 201, body.model_dump(mode="json")

    status, body, _ = idempotency.run(
        user=user, key=request.headers.get("Idempotency-Key"), scope="POST /known-errors",
        body=request.body, create=create,
    )  # fmt: skip
    response["ETag"] = etag(body["id"], body["version"])
    response["Location"] = f"/api/v1/known-errors/{body['id']}"
    return Status(status, body)


@router.post("/known-errors/match", response={200: MatchesOut, **ERRORS})
def match(request: HttpRequest, payload: MatchIn) -> Any:
    """The 1st line's search: known errors whose published workaround fits an
    incident's text, best first, boosted by the same CI, service, technology or
    error code; ``reasons`` say why each matched. English and Russian."""
    user = _user(request)
    found = search.match(
        search.Query(
            text=payload.text,
            configuration_item=_by_id_or_name(ConfigurationItem, payload.configuration_item, "configuration_item"),
            service=_by_id_or_name(Service, payload.service, "service"),
            technology=_by_id_or_name(Technology, payload.technology, "technology"),
            error_code=payload.error_code or "", portal_only=not selectors.is_staff(user),
            limit=payload.limit,
        )
    )  # fmt: skip
    full = {
        k.pk: k
        for k in selectors.known_errors(user).filter(pk__in=[m.known_error.pk for m in found])
    }
    return {
        "items": [
            {"known_error": known_error_out(full[m.known_error.pk]), "score": m.score,
             "text_score": m.text_score, "reasons": m.reasons}
            for m in found if m.known_error.pk in full
        ]
    }  # fmt: skip


@router.get("/known-errors/figures", response={200: FiguresOut, **ERRORS})
def figures(request: HttpRequest, filters: Query[FiguresFilterIn]) -> Any:
    """Error-control figures (SPEC Table 3)."""
    _require_staff(_user(request))
    return selectors.figures(filters.opened_from, filters.opened_to)


@router.get("/known-errors/monitoring", response={200: list[TrendOut], **ERRORS})
def rising(request: HttpRequest) -> Any:
    """Known errors flagged by the daily check: their incident rate rises (re-prioritise)."""
    _require_staff(_user(request))
    now = clock.now()
    return [
        _trend_out(ke, monitoring.trend(ke, now))
        for ke in selectors.known_errors(_user(request))
        .filter(rate_rising=True)
        .order_by("priority", "id")
    ]


def _trend_out(ke: Any, trend: monitoring.Trend) -> dict[str, Any]:
    return {
        "known_error": ref(ke),
        "windows": [{"start": s, "end": e, "incidents": n} for s, e, n in trend.windows],
        "recent": trend.recent, "baseline": trend.baseline, "rising": trend.rising,
    }  # fmt: skip


@router.get("/known-errors/{known_error_id}", response={200: KnownErrorOut, **ERRORS})
def get_known_error(request: HttpRequest, response: HttpResponse, known_error_id: PathId) -> Any:
    return _respond(request, response, known_error_id)


@router.patch("/known-errors/{known_error_id}", response={200: KnownErrorOut, **WRITE_ERRORS})
def update_known_error(
    request: HttpRequest, response: HttpResponse, known_error_id: PathId, payload: KnownErrorPatch
) -> Any:
    pk = _visible(request, known_error_id)
    services.do_update_known_error(
        known_error=pk, actor=_user(request), changes=payload.dict(exclude_unset=True),
        expected_version=expected_version(request, pk),
    )  # fmt: skip
    return _respond(request, response, pk)


def _action(request: HttpRequest, response: HttpResponse, pk: int, verb: Any, **kwargs: Any) -> Any:
    _visible(request, pk)
    verb(
        known_error=pk,
        actor=_user(request),
        expected_version=expected_version(request, pk),
        **kwargs,
    )
    return _respond(request, response, pk)


@router.post(
    "/known-errors/{known_error_id}/publish", response={200: KnownErrorOut, **WRITE_ERRORS}
)
def publish(
    request: HttpRequest, response: HttpResponse, known_error_id: PathId, payload: PublishIn
) -> Any:
    """Publish the workaround for all support levels ("support") or also for end users ("portal")."""
    return _action(request, response, known_error_id, services.do_publish_workaround,
                   audience=payload.audience, workaround=payload.workaround)  # fmt: skip


@router.post(
    "/known-errors/{known_error_id}/withdraw", response={200: KnownErrorOut, **WRITE_ERRORS}
)
def withdraw(
    request: HttpRequest, response: HttpResponse, known_error_id: PathId, payload: WithdrawIn
) -> Any:
    return _action(request, response, known_error_id, services.do_withdraw_workaround,
                   reason=payload.reason)  # fmt: skip


@router.post("/known-errors/{known_error_id}/status", response={200: KnownErrorOut, **WRITE_ERRORS})
def set_status(
    request: HttpRequest, response: HttpResponse, known_error_id: PathId, payload: StatusIn
) -> Any:
    """fix_in_progress, fixed, accepted (without fix: needs a reason) or back to open."""
    return _action(request, response, known_error_id, services.do_set_status,
                   status=payload.status, reason=payload.reason)  # fmt: skip


@router.post("/known-errors/{known_error_id}/close", response={200: KnownErrorOut, **WRITE_ERRORS})
def close(
    request: HttpRequest, response: HttpResponse, known_error_id: PathId, payload: CloseIn
) -> Any:
    """Close (normally once fixed): no longer matched; linked open incidents are told;
    ``close_problem`` closes the problem too."""
    return _action(request, response, known_error_id, services.do_close_known_error,
                   reason=payload.reason, close_problem=payload.close_problem)  # fmt: skip


@router.get("/known-errors/{known_error_id}/timeline", response={200: list[EventOut], **ERRORS})
def timeline(request: HttpRequest, known_error_id: PathId) -> Any:
    _require_staff(_user(request))
    ke = selectors.get_known_error(_user(request), known_error_id)
    return [
        {"id": e.pk, "type": e.type, "actor": ref(e.actor), "at": e.at, "payload": e.payload}
        for e in ke.events.select_related("actor").order_by("id")
    ]


@router.get(
    "/known-errors/{known_error_id}/incidents", response={200: list[CausedIncidentOut], **ERRORS}
)
def caused_incidents(request: HttpRequest, known_error_id: PathId) -> Any:
    """Incidents its workaround was applied to."""
    _require_staff(_user(request))
    ke = selectors.get_known_error(_user(request), known_error_id)
    return [
        {"incident": ref(link.incident), "status": link.incident.status,
         "opened_at": link.incident.opened_at, "applied_at": link.applied_at,
         "resolved": link.resolved}
        for link in ke.incident_links.select_related("incident").order_by("id")
    ]  # fmt: skip


@router.get("/known-errors/{known_error_id}/monitoring", response={200: TrendOut, **ERRORS})
def monitoring_series(request: HttpRequest, known_error_id: PathId) -> Any:
    """Incidents caused per window, and whether the rate rises."""
    _require_staff(_user(request))
    ke = selectors.get_known_error(_user(request), known_error_id)
    return _trend_out(ke, monitoring.trend(ke))


def _applied_out(link: KnownErrorIncident) -> dict[str, Any]:
    link.incident.refresh_from_db(fields=["status"])
    return {"incident": ref(link.incident), "known_error": ref(link.known_error),
            "incident_status": link.incident.status, "resolved": link.resolved,
            "applied_at": link.applied_at, "applied_by": ref(link.applied_by)}  # fmt: skip


def _apply(request: HttpRequest, incident_id: int, known_error_id: int, resolve_it: bool,
           resolution: str) -> Any:  # fmt: skip
    user = _user(request)
    incident_selectors.get_incident(user, incident_id, related=False)
    _require_staff(user)
    link = services.do_apply_workaround(
        incident=incident_id, known_error=known_error_id, actor=user, resolve=resolve_it,
        resolution=resolution,
    )  # fmt: skip
    return _applied_out(link)


@router.post(
    "/incidents/{incident_id}/apply-workaround", response={200: AppliedOut, **WRITE_ERRORS}
)
def apply_workaround(request: HttpRequest, incident_id: PathId, payload: ApplyIn) -> Any:
    """Apply a known error's workaround to the incident: link them, record it on the
    timeline and (``resolve``) resolve it with the code "known_error"."""
    return _apply(request, incident_id, payload.known_error, payload.resolve, payload.resolution)


@router.post("/known-errors/{known_error_id}/apply", response={200: AppliedOut, **WRITE_ERRORS})
def apply_to_incident(
    request: HttpRequest, known_error_id: PathId, payload: ApplyToIncidentIn
) -> Any:
    """The same action seen from the known error."""
    return _apply(request, payload.incident, known_error_id, payload.resolve, payload.resolution)


# ---- fix projects -------------------------------------------------------------------------


def _fix_out(fix: FixProject) -> dict[str, Any]:
    return fix_project_out(fix, clock.now().date())


def _fix(request: HttpRequest, pk: int) -> FixProject:
    _require_staff(_user(request))
    fix = one(FixProject.objects.select_related("known_error", "owner", "group").filter(pk=pk))
    if fix is None:
        raise NotFound(f"Fix project {pk} does not exist.")
    return fix


@router.get("/fix-projects", response={200: PageOut[FixProjectOut], **ERRORS})
def list_fix_projects(request: HttpRequest, filters: Query[FixProjectFilterIn]) -> dict[str, Any]:
    """The prioritised list of fix projects: priority 1 first, then the oldest."""
    _require_staff(_user(request))
    rows, next_cursor = selectors.fix_projects(
        status=filters.status, known_error=filters.known_error, active=filters.active,
        cursor=filters.cursor, limit=filters.limit,
    )  # fmt: skip
    return {"items": [_fix_out(f) for f in rows], "next": next_cursor}


@router.post("/fix-projects", response={201: FixProjectOut, **WRITE_ERRORS})
def create_fix_project(request: HttpRequest, response: HttpResponse, payload: FixProjectIn) -> Any:
    user = _user(request)
    _require_staff(user)

    def create() -> tuple[int, dict[str, Any]]:
        fix = fixes.do_create_fix_project(
            actor=user, known_error=payload.known_error, title=payload.title,
            description=payload.description, priority=payload.priority,
            owner=resolve(User, payload.owner, "owner", is_active=True),
            group=resolve(SupportGroup, payload.group, "group"),
            planned_start=payload.planned_start, planned_end=payload.planned_end,
            cost_estimate=payload.cost_estimate, change_ref=payload.change_ref,
        )  # fmt: skip
        body = FixProjectOut.model_validate(_fix_out(_fix(request, fix.pk)))
        return 201, body.model_dump(mode="json")

    status, body, _ = idempotency.run(
        user=user, key=request.headers.get("Idempotency-Key"), scope="POST /fix-projects",
        body=request.body, create=create,
    )  # fmt: skip
    response["ETag"] = etag(body["id"], body["version"])
    response["Location"] = f"/api/v1/fix-projects/{body['id']}"
    return Status(status, body)


@router.get("/fix-projects/{fix_project_id}", response={200: FixProjectOut, **ERRORS})
def get_fix_project(request: HttpRequest, response: HttpResponse, fix_project_id: PathId) -> Any:
    fix = _fix(request, fix_project_id)
    response["ETag"] = etag(fix.pk, fix.version)
    return _fix_out(fix)


@router.patch("/fix-projects/{fix_project_id}", response={200: FixProjectOut, **WRITE_ERRORS})
def update_fix_project(
    request: HttpRequest, response: HttpResponse, fix_project_id: PathId, payload: FixProjectPatch
) -> Any:
    pk = _fix(request, fix_project_id).pk
    fixes.do_update_fix_project(
        fix_project=pk, actor=_user(request), changes=payload.dict(exclude_unset=True),
        expected_version=expected_version(request, pk),
    )  # fmt: skip
    return get_fix_project(request, response, pk)


@router.post("/fix-projects/{fix_project_id}/status", response={200: FixProjectOut, **WRITE_ERRORS})
def change_fix_status(
    request: HttpRequest, response: HttpResponse, fix_project_id: PathId, payload: FixStatusIn
) -> Any:
    """approved, in_progress, implemented or cancelled (approve and cancel: managers)."""
    pk = _fix(request, fix_project_id).pk
    fixes.do_change_fix_status(
        fix_project=pk, actor=_user(request), status=payload.status, reason=payload.reason,
        actual_cost=payload.actual_cost, change_ref=payload.change_ref,
        expected_version=expected_version(request, pk),
    )  # fmt: skip
    return get_fix_project(request, response, pk)


@router.get("/fix-projects/{fix_project_id}/timeline", response={200: list[EventOut], **ERRORS})
def fix_timeline(request: HttpRequest, fix_project_id: PathId) -> Any:
    fix = _fix(request, fix_project_id)
    return [
        {"id": e.pk, "type": e.type, "actor": ref(e.actor), "at": e.at, "payload": e.payload}
        for e in fix.events.select_related("actor").order_by("id")
    ]
