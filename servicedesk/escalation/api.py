"""REST endpoints of the escalation matrix, business calendars, plans and SLA clocks."""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from ninja import Path, Query, Router, Status

from servicedesk.accounts.models import User
from servicedesk.catalog.models import ConfigurationItem, Service, Technology, UserGroup
from servicedesk.core import clock, idempotency
from servicedesk.core.errors import NotFound, PermissionDenied
from servicedesk.core.http import etag, expected_version
from servicedesk.core.lookups import resolve
from servicedesk.core.pagination import keyset_page
from servicedesk.core.schemas import ERRORS, WRITE_ERRORS, PageOut
from servicedesk.incidents import selectors as incident_selectors

from . import selectors, services
from .models import BusinessCalendar, EscalationPolicy, IncidentEscalation
from .schemas import (
    CalendarIn,
    CalendarOut,
    PlanOut,
    PolicyFilterIn,
    PolicyIn,
    PolicyOut,
    SimulateIn,
    SimulationOut,
    SlaOut,
    calendar_out,
    policy_out,
)

router = Router(tags=["escalation"])
RowId = Annotated[int, Path(ge=1, le=2_147_483_647)]
SCOPE_MODELS: dict[str, type] = {
    "configuration_item": ConfigurationItem,
    "service": Service,
    "technology": Technology,
    "user_group": UserGroup,
}


def _user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined]


def _admin(request: HttpRequest) -> User:
    user = _user(request)
    services.require_admin(user, "manage the escalation matrix")
    return user


def _staff(request: HttpRequest) -> User:
    user = _user(request)
    if not (user.is_support_staff or user.is_superuser):
        raise PermissionDenied("Only support staff may see escalation plans.")
    return user


def _policy(pk: int) -> EscalationPolicy:
    policy = (
        EscalationPolicy.objects.select_related(
            "calendar", "configuration_item", "service", "technology", "user_group"
        )
        .prefetch_related("steps")
        .filter(pk=pk)
        .first()
    )
    if policy is None:
        raise NotFound(f"Escalation policy {pk} does not exist.")
    return policy


def _policy_input(payload: PolicyIn) -> services.PolicyInput:
    scope = payload.applies_to.scope
    target = None
    if scope != "all":
        if payload.applies_to.id is None:
            from servicedesk.core.errors import FieldError

            raise FieldError(
                ["body", "applies_to", "id"], f"name the {scope} the policy applies to"
            )
        target = resolve(SCOPE_MODELS[scope], payload.applies_to.id, ["body", "applies_to", "id"])
    return services.PolicyInput(
        name=payload.name, severity=payload.severity, scope=scope, target=target,
        calendar=resolve(BusinessCalendar, payload.calendar, "calendar"), offsets=payload.offsets,
        respond_within=payload.respond_within, resolve_within=payload.resolve_within,
        active=payload.active, description=payload.description,
        steps=[
            services.StepInput(
                kind=s.kind, support_level=s.support_level, after=s.after,
                ack_within=s.ack_within, starts_in=s.starts_in, bridge=s.bridge,
                url=str(s.url) if s.url else "", secret=s.secret,
            )
            for s in payload.steps
        ],
    )  # fmt: skip


def _respond(response: HttpResponse, pk: int) -> dict[str, Any]:
    policy = _policy(pk)
    response["ETag"] = etag(policy.pk, policy.version)
    return policy_out(policy)


# ---- policies ------------------------------------------------------------------------------


@router.get("/escalation-policies", response={200: PageOut[PolicyOut], **ERRORS})
def list_policies(request: HttpRequest, filters: Query[PolicyFilterIn]) -> Any:
    """The escalation matrix (administrators)."""
    _admin(request)
    qs = EscalationPolicy.objects.select_related(
        "calendar", "configuration_item", "service", "technology", "user_group"
    ).prefetch_related("steps")
    if filters.severity is not None:
        qs = qs.filter(severity=filters.severity)
    if filters.active is not None:
        qs = qs.filter(active=filters.active)
    rows, next_cursor = keyset_page(qs, cursor=filters.cursor, limit=filters.limit, ascending=True)
    return {"items": [policy_out(p) for p in rows], "next": next_cursor}


@router.post("/escalation-policies", response={201: PolicyOut, **WRITE_ERRORS})
def create_policy(request: HttpRequest, response: HttpResponse, payload: PolicyIn) -> Any:
    """Add a policy. Durations are seconds. Send ``Idempotency-Key`` to make retries safe."""
    user = _admin(request)

    def create() -> tuple[int, dict[str, Any]]:
        policy = services.do_create_policy(actor=user, data=_policy_input(payload))
        body = PolicyOut.model_validate(policy_out(_policy(policy.pk)))
        return 201, body.model_dump(mode="json")

    status, body, _ = idempotency.run(
        user=user, key=request.headers.get("Idempotency-Key"), scope="POST /escalation-policies",
        body=request.body, create=create,
    )  # fmt: skip
    response["ETag"] = etag(body["id"], body["version"])
    response["Location"] = f"/api/v1/escalation-policies/{body['id']}"
    return Status(status, body)


@router.get("/escalation-policies/{policy_id}", response={200: PolicyOut, **ERRORS})
def get_policy(request: HttpRequest, response: HttpResponse, policy_id: RowId) -> Any:
    _admin(request)
    return _respond(response, policy_id)


@router.put("/escalation-policies/{policy_id}", response={200: PolicyOut, **WRITE_ERRORS})
def update_policy(
    request: HttpRequest, response: HttpResponse, policy_id: RowId, payload: PolicyIn
) -> Any:
    """Replace a policy and its steps. Running incidents keep the plan they started
    with; send ``If-Match`` with the ETag you read."""
    user = _admin(request)
    _policy(policy_id)
    services.do_update_policy(
        actor=user, policy=policy_id, data=_policy_input(payload),
        expected_version=expected_version(request, policy_id),
    )  # fmt: skip
    return _respond(response, policy_id)


@router.delete("/escalation-policies/{policy_id}", response={204: None, **WRITE_ERRORS})
def delete_policy(request: HttpRequest, policy_id: RowId) -> Any:
    services.do_delete_policy(actor=_admin(request), policy=policy_id)
    return Status(204, None)


@router.get("/escalation-policies/{policy_id}/simulate", response={200: SimulationOut, **ERRORS})
def simulate_policy(request: HttpRequest, policy_id: RowId, params: Query[SimulateIn]) -> Any:
    """A dry run: every step's due time for an incident opened at ``opened_at``
    that nobody touches, with flags for steps that cannot be reached or overlap."""
    _staff(request)
    return selectors.simulate(
        _policy(policy_id), opened_at=params.opened_at or clock.now(), severity=params.severity
    )


# ---- incidents ---------------------------------------------------------------------------------


def _incident(request: HttpRequest, pk: int) -> Any:
    return incident_selectors.get_incident(_user(request), pk)


@router.get("/incidents/{incident_id}/escalation-plan", response={200: PlanOut, **ERRORS})
def escalation_plan(request: HttpRequest, incident_id: RowId) -> Any:
    """The incident's policy, SLA clocks and every planned step with its due time
    and state (pending, paused, done, skipped, failed) and flags."""
    _staff(request)
    return selectors.incident_plan(_incident(request, incident_id))


@router.get("/incidents/{incident_id}/sla", response={200: SlaOut, **ERRORS})
def sla(request: HttpRequest, incident_id: RowId) -> Any:
    """The respond and resolve clocks: elapsed, remaining, due time, breached."""
    incident = _incident(request, incident_id)
    state = IncidentEscalation.objects.filter(incident=incident).first()
    base = {"incident": {"id": incident.pk, "name": str(incident)},
            "respond_by": incident.respond_by, "resolve_by": incident.resolve_by}  # fmt: skip
    if state is None:
        return {**base, "policy": None, "calendar": None, "status": "none", "pause_reason": "",
                "clocks": []}  # fmt: skip
    state.incident = incident
    return {**base, "policy": selectors.policy_ref(state.snapshot),
            "calendar": selectors.calendar_ref(state.snapshot),
            "status": state.status, "pause_reason": state.pause_reason,
            "clocks": selectors.clocks(state, clock.now())}  # fmt: skip


# ---- calendars ---------------------------------------------------------------------------------


def _calendar_input(payload: CalendarIn) -> services.CalendarInput:
    return services.CalendarInput(
        name=payload.name, kind=payload.kind, time_zone=payload.time_zone,
        hours={day: [list(w) for w in windows] for day, windows in payload.hours.items()},
        country=payload.country, subdivision=payload.subdivision,
        extra_holidays=payload.extra_holidays, extra_workdays=payload.extra_workdays,
        description=payload.description,
    )  # fmt: skip


def _calendar(pk: int) -> BusinessCalendar:
    row = BusinessCalendar.objects.filter(pk=pk).first()
    if row is None:
        raise NotFound(f"Business calendar {pk} does not exist.")
    return row


@router.get("/business-calendars", response={200: list[CalendarOut], **ERRORS})
def list_calendars(request: HttpRequest) -> Any:
    _staff(request)
    return [calendar_out(c) for c in BusinessCalendar.objects.all()]


@router.post("/business-calendars", response={201: CalendarOut, **WRITE_ERRORS})
def create_calendar(request: HttpRequest, payload: CalendarIn) -> Any:
    row = services.do_create_calendar(actor=_admin(request), data=_calendar_input(payload))
    return Status(201, calendar_out(row))


@router.get("/business-calendars/{calendar_id}", response={200: CalendarOut, **ERRORS})
def get_calendar(request: HttpRequest, calendar_id: RowId) -> Any:
    _staff(request)
    return calendar_out(_calendar(calendar_id))


@router.put("/business-calendars/{calendar_id}", response={200: CalendarOut, **WRITE_ERRORS})
def update_calendar(request: HttpRequest, calendar_id: RowId, payload: CalendarIn) -> Any:
    user = _admin(request)
    row = services.do_update_calendar(
        actor=user, calendar=_calendar(calendar_id), data=_calendar_input(payload)
    )
    return calendar_out(row)


@router.delete("/business-calendars/{calendar_id}", response={204: None, **WRITE_ERRORS})
def delete_calendar(request: HttpRequest, calendar_id: RowId) -> Any:
    user = _admin(request)
    services.do_delete_calendar(actor=user, calendar=_calendar(calendar_id))
    return Status(204, None)
