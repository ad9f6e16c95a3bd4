"""REST endpoints of on-call: schedules, who is on call, overrides, iCal, pages."""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from ninja import Path, Query, Router, Status

from servicedesk.accounts.models import SupportGroup, User
from servicedesk.core import clock
from servicedesk.core.errors import NotFound, PermissionDenied
from servicedesk.core.http import etag, expected_version
from servicedesk.core.lookups import one, resolve
from servicedesk.core.pagination import keyset_page
from servicedesk.core.schemas import ERRORS, WRITE_ERRORS, PageOut, ref
from servicedesk.incidents.models import Incident

from . import ical, selectors, services
from .models import OnCallLayer, OnCallOverride, OnCallSchedule, Page
from .schemas import (
    FeedOut,
    ImportOut,
    LayerIn,
    ListIn,
    OverrideIn,
    OverrideOut,
    PageFilterIn,
    PageIn,
    ScheduleIn,
    ScheduleOut,
    ScheduleUpdateIn,
    ShiftOut,
    ShiftsIn,
    WhoIn,
    WhoOut,
    override_out,
    page_out,
    schedule_out,
)
from .schemas import PageOut as PageRecordOut

router = Router(tags=["on-call"])
RowId = Annotated[int, Path(ge=1, le=2_147_483_647)]
ICAL = ical.CONTENT_TYPE


def _staff(request: HttpRequest) -> User:
    user: User = request.auth  # type: ignore[attr-defined]
    if not (user.is_support_staff or user.is_superuser):
        raise PermissionDenied("Only support staff may see on-call schedules and pages.")
    return user


def _schedule(pk: int) -> OnCallSchedule:
    schedule = one(OnCallSchedule.objects.select_related("group").filter(pk=pk))
    if schedule is None:
        raise NotFound(f"On-call schedule {pk} does not exist.")
    return schedule


def _layers(payload: list[LayerIn]) -> list[services.LayerInput]:
    result = []
    for i, layer in enumerate(payload):
        members = [resolve(User, pk, ["body", "layers", str(i), "members"]) for pk in layer.members]
        result.append(services.LayerInput(
            name=layer.name, rotation=layer.rotation, shift_length=layer.shift_length,
            starts_on=layer.starts_on, handoff_time=layer.handoff_time,
            restriction={day: [list(w) for w in windows] for day, windows in layer.restriction.items()},
            members=[m for m in members if m is not None],
        ))  # fmt: skip
    return result


def _respond(response: HttpResponse, pk: int) -> dict[str, Any]:
    schedule = _schedule(pk)
    response["ETag"] = etag(schedule.pk, schedule.version)
    return schedule_out(schedule)


# ---- schedules ---------------------------------------------------------------------------


@router.get("/oncall/schedules", response={200: PageOut[ScheduleOut], **ERRORS})
def list_schedules(request: HttpRequest, params: Query[ListIn]) -> Any:
    """Every support group's on-call schedule."""
    _staff(request)
    rows, next_cursor = keyset_page(
        OnCallSchedule.objects.select_related("group"), cursor=params.cursor, limit=params.limit,
        ascending=True,
    )  # fmt: skip
    return {"items": [schedule_out(s) for s in rows], "next": next_cursor}


@router.post("/oncall/schedules", response={201: ScheduleOut, **WRITE_ERRORS})
def create_schedule(request: HttpRequest, response: HttpResponse, payload: ScheduleIn) -> Any:
    """Create a group's schedule (its manager or an administrator)."""
    user = _staff(request)
    group = resolve(SupportGroup, payload.group, "group")
    assert group is not None
    schedule = services.do_create_schedule(
        actor=user, group=group, name=payload.name, time_zone=payload.time_zone,
        description=payload.description, layers=_layers(payload.layers),
    )  # fmt: skip
    response["Location"] = f"/api/v1/oncall/schedules/{schedule.pk}"
    return Status(201, _respond(response, schedule.pk))


@router.get("/oncall/schedules/{schedule_id}", response={200: ScheduleOut, **ERRORS})
def get_schedule(request: HttpRequest, response: HttpResponse, schedule_id: RowId) -> Any:
    _staff(request)
    return _respond(response, schedule_id)


@router.put("/oncall/schedules/{schedule_id}", response={200: ScheduleOut, **WRITE_ERRORS})
def update_schedule(
    request: HttpRequest, response: HttpResponse, schedule_id: RowId, payload: ScheduleUpdateIn
) -> Any:
    """Replace the schedule's settings and layers; overrides stay."""
    user = _staff(request)
    _schedule(schedule_id)
    services.do_update_schedule(
        actor=user, schedule=schedule_id, name=payload.name or _schedule(schedule_id).name,
        time_zone=payload.time_zone, description=payload.description,
        layers=_layers(payload.layers), expected_version=expected_version(request, schedule_id),
    )  # fmt: skip
    return _respond(response, schedule_id)


@router.delete("/oncall/schedules/{schedule_id}", response={204: None, **WRITE_ERRORS})
def delete_schedule(request: HttpRequest, schedule_id: RowId) -> Any:
    services.do_delete_schedule(actor=_staff(request), schedule=_schedule(schedule_id))
    return Status(204, None)


@router.get("/oncall/schedules/{schedule_id}/who", response={200: WhoOut, **ERRORS})
def who(request: HttpRequest, schedule_id: RowId, params: Query[WhoIn]) -> Any:
    """Who is on call at ``at`` (now when omitted), and whom a page reaches next."""
    _staff(request)
    schedule = _schedule(schedule_id)
    at = params.at or clock.now()
    found = selectors.responders(schedule.group, at)
    primary = next((r.person for r in found if r.source != "manager"), None)
    return {
        "at": at, "schedule": ref(schedule), "group": ref(schedule.group), "on_call": ref(primary),
        "responders": [{"person": ref(r.person), "layer": ref(r.layer), "source": r.source,
                        "until": r.until} for r in found],
    }  # fmt: skip


def _timeline(schedule: OnCallSchedule, params: ShiftsIn) -> tuple[list[Any], dict[int, User]]:
    return selectors.shifts_with_people(schedule, params.start or clock.now(), params.days)


@router.get("/oncall/schedules/{schedule_id}/shifts", response={200: list[ShiftOut], **ERRORS})
def shifts(request: HttpRequest, schedule_id: RowId, params: Query[ShiftsIn]) -> Any:
    """The primary on-call person's shifts from ``start`` for ``days``."""
    _staff(request)
    found, people = _timeline(_schedule(schedule_id), params)
    return [
        {"person": ref(people[s.member]), "start": s.start, "end": s.end}
        for s in found
        if s.member in people
    ]


@router.get(
    "/oncall/schedules/{schedule_id}/ical",
    response={200: None, **ERRORS},
    openapi_extra={"responses": {200: {"description": "The schedule as iCal (RFC 5545).",
                                       "content": {ICAL: {"schema": {"type": "string"}}}}}},
)  # fmt: skip
def export_ical(request: HttpRequest, schedule_id: RowId, params: Query[ShiftsIn]) -> HttpResponse:
    """The primary on-call shifts as an iCal feed (default: the next 28 days)."""
    _staff(request)
    schedule = _schedule(schedule_id)
    now = clock.now()
    body = selectors.ical_feed(schedule, start=params.start or now, days=params.days, now=now)
    return ical.http_response(schedule.pk, body)


@router.post("/oncall/schedules/{schedule_id}/feed", response={201: FeedOut, **WRITE_ERRORS})
def new_feed(request: HttpRequest, schedule_id: RowId) -> Any:
    """A calendar subscription URL for the schedule, for applications that cannot
    send a bearer token (Google Calendar, Outlook, Thunderbird): its key reads
    this schedule's feed and nothing else. Shown once; asking again makes a new
    key and the previous URL stops working. The group's manager or an admin."""
    key = services.do_new_feed_key(actor=_staff(request), schedule=_schedule(schedule_id))
    return Status(201, {"url": ical.subscription_url(request, schedule_id, key)})


@router.delete("/oncall/schedules/{schedule_id}/feed", response={204: None, **WRITE_ERRORS})
def disable_feed(request: HttpRequest, schedule_id: RowId) -> Any:
    """Stop the calendar subscription: its URL answers 404 from now on."""
    services.do_disable_feed(actor=_staff(request), schedule=_schedule(schedule_id))
    return Status(204, None)


@router.post(
    "/oncall/schedules/{schedule_id}/ical",
    response={200: ImportOut, **WRITE_ERRORS},
    openapi_extra={"requestBody": {"required": True, "content": {ICAL: {"schema": {"type": "string"}}}}},
)  # fmt: skip
def import_ical(request: HttpRequest, schedule_id: RowId) -> Any:
    """Import an iCal feed (the request body) as overrides of the first layer; a
    new import replaces the previous one. Events name their person by an
    attendee's e-mail, ``X-SERVICEDESK-USER`` or a summary like "On call: jdoe"."""
    result = services.do_import_ical(
        actor=_staff(request), schedule=_schedule(schedule_id), content=request.body
    )
    return {"imported": result.imported, "removed": result.removed, "skipped": result.skipped}


# ---- overrides ----------------------------------------------------------------------------


@router.get(
    "/oncall/schedules/{schedule_id}/overrides", response={200: list[OverrideOut], **ERRORS}
)
def list_overrides(request: HttpRequest, schedule_id: RowId) -> Any:
    """Overrides that have not ended yet."""
    _staff(request)
    rows = OnCallOverride.objects.filter(
        schedule=_schedule(schedule_id), ends_at__gt=clock.now()
    ).select_related("person", "layer")[:500]
    return [override_out(r) for r in rows]


@router.post(
    "/oncall/schedules/{schedule_id}/overrides", response={201: OverrideOut, **WRITE_ERRORS}
)
def add_override(request: HttpRequest, schedule_id: RowId, payload: OverrideIn) -> Any:
    user = _staff(request)
    schedule = _schedule(schedule_id)
    person = resolve(User, payload.person, "person")
    layer = resolve(OnCallLayer, payload.layer, "layer", schedule=schedule)
    assert person is not None
    row = services.do_add_override(
        actor=user, schedule=schedule, person=person, starts_at=payload.starts_at,
        ends_at=payload.ends_at, layer=layer, reason=payload.reason,
    )  # fmt: skip
    return Status(201, override_out(row))


@router.delete(
    "/oncall/schedules/{schedule_id}/overrides/{override_id}",
    response={204: None, **WRITE_ERRORS},
)
def delete_override(request: HttpRequest, schedule_id: RowId, override_id: RowId) -> Any:
    user = _staff(request)
    row = OnCallOverride.objects.filter(pk=override_id, schedule_id=schedule_id).first()
    if row is None:
        raise NotFound(f"Override {override_id} does not exist on this schedule.")
    services.do_delete_override(actor=user, override=row)
    return Status(204, None)


# ---- pages ------------------------------------------------------------------------------------


def _page(pk: int) -> Page:
    page = one(
        Page.objects.select_related("incident", "group", "person", "acknowledged_by").filter(pk=pk)
    )
    if page is None:
        raise NotFound(f"Page {pk} does not exist.")
    return page


@router.get("/oncall/pages", response={200: PageOut[PageRecordOut], **ERRORS})
def list_pages(request: HttpRequest, filters: Query[PageFilterIn]) -> Any:
    """Pages, newest first."""
    _staff(request)
    qs = Page.objects.select_related("incident", "group", "person", "acknowledged_by")
    if filters.incident is not None:
        qs = qs.filter(incident_id=filters.incident)
    if filters.state is not None:
        qs = qs.filter(state=filters.state)
    rows, next_cursor = keyset_page(qs, cursor=filters.cursor, limit=filters.limit)
    return {"items": [page_out(p) for p in rows], "next": next_cursor}


@router.post("/oncall/pages", response={201: PageRecordOut, **WRITE_ERRORS})
def page_group(request: HttpRequest, payload: PageIn) -> Any:
    """Page a group's on-call person about an incident, by hand."""
    user = _staff(request)
    incident = resolve(Incident, payload.incident, "incident")
    group = resolve(SupportGroup, payload.group, "group", is_active=True)
    assert incident is not None and group is not None
    page = services.do_page(
        incident=incident, group=group, actor=user, ack_within=payload.ack_within
    )
    return Status(201, page_out(_page(page.pk)))


@router.get("/oncall/pages/{page_id}", response={200: PageRecordOut, **ERRORS})
def get_page(request: HttpRequest, page_id: RowId) -> Any:
    _staff(request)
    return page_out(_page(page_id))


@router.post("/oncall/pages/{page_id}/acknowledge", response={200: PageRecordOut, **WRITE_ERRORS})
def acknowledge(request: HttpRequest, page_id: RowId) -> Any:
    """The responder has it: no further pages for this step."""
    page = services.do_acknowledge(page=page_id, actor=_staff(request))
    return page_out(_page(page.pk))
