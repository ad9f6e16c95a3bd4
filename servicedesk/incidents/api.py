"""REST endpoints of incidents: parse, call a service, serialise. No state changes here."""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from ninja import Path, Query, Router, Status

from servicedesk.accounts.models import SupportGroup, User
from servicedesk.catalog.models import (
    Category,
    ConfigurationItem,
    Partner,
    Service,
    Technology,
    UserGroup,
)
from servicedesk.core import idempotency
from servicedesk.core.errors import NotFound
from servicedesk.core.http import as_rendered, etag, expected_version, prebuilt_json
from servicedesk.core.lookups import resolve
from servicedesk.core.schemas import ERRORS, WRITE_ERRORS, PageOut, ref

from . import selectors, services
from .models import Task
from .schemas import (
    AssignIn,
    CloseIn,
    CommentIn,
    CommentOut,
    DeEscalateIn,
    EscalateIn,
    EventOut,
    IncidentFilterIn,
    IncidentIn,
    IncidentOut,
    IncidentPatch,
    PendingIn,
    ReasonIn,
    ResolveIn,
    TaskIn,
    TaskOut,
    TaskPatch,
    incident_out,
)

router = Router(tags=["incidents"])

IncidentId = Annotated[int, Path(ge=1, le=2_147_483_647)]
TaskId = Annotated[int, Path(ge=1, le=2_147_483_647)]


def _user(request: HttpRequest) -> User:
    return request.auth  # type: ignore[attr-defined]


def _respond(request: HttpRequest, pk: int) -> HttpResponse:
    """The incident as it stands, with its ETag: built by ``incident_out`` and sent as
    built (``prebuilt_json``; test_api holds every answer to the declared schema)."""
    incident = selectors.get_incident(_user(request), pk)
    answer = prebuilt_json(incident_out(incident))
    answer["ETag"] = etag(incident.pk, incident.version)
    return answer


def _visible(request: HttpRequest, pk: int) -> int:
    """404 unless the caller may see the incident; returns its id."""
    if not selectors.visible_incidents(_user(request)).filter(pk=pk).exists():
        raise NotFound(f"Incident {pk} does not exist.")
    return pk


@router.get("/incidents", response={200: PageOut[IncidentOut], **ERRORS})
def list_incidents(request: HttpRequest, filters: Query[IncidentFilterIn]) -> HttpResponse:
    """Incidents the caller may see, newest first, cursor-paginated."""
    data = filters.dict(exclude={"cursor", "limit"})
    qs = selectors.IncidentFilter(**data).apply(selectors.visible_incidents(_user(request)))
    rows, next_cursor = selectors.page(qs, cursor=filters.cursor, limit=filters.limit)
    return prebuilt_json({"items": [incident_out(i) for i in rows], "next": next_cursor})


@router.post("/incidents", response={201: IncidentOut, **WRITE_ERRORS})
def create_incident(request: HttpRequest, payload: IncidentIn) -> Any:
    """Register an incident. Send an ``Idempotency-Key`` header to make retries safe."""
    user = _user(request)

    def create() -> tuple[int, dict[str, Any]]:
        incident = services.do_create_incident(
            actor=user,
            title=payload.title,
            description=payload.description,
            reporter=resolve(User, payload.reporter, "reporter", is_active=True),
            contact_phone=payload.contact_phone,
            contact_email=payload.contact_email,
            user_group=resolve(UserGroup, payload.user_group, "user_group"),
            service=resolve(Service, payload.service, "service"),
            configuration_item=resolve(
                ConfigurationItem,
                payload.configuration_item,
                "configuration_item",
                related=("service", "technology"),
            ),
            technology=resolve(Technology, payload.technology, "technology"),
            category=resolve(Category, payload.category, "category"),
            affected_users=payload.affected_users,
            business_impact=payload.business_impact,
            impact=payload.impact,
            urgency=payload.urgency,
            severity=payload.severity,
            severity_reason=payload.severity_reason,
            source=payload.source,
            external_ref=payload.external_ref,
            expected_resolution_at=payload.expected_resolution_at,
            assigned_group=resolve(
                SupportGroup, payload.assigned_group, "assigned_group", is_active=True
            ),
            assignee=resolve(User, payload.assignee, "assignee", is_active=True),
        )
        return 201, as_rendered(incident_out(selectors.reread(user, incident)))

    status, body, _ = idempotency.run(
        user=user, key=request.headers.get("Idempotency-Key"), scope="POST /incidents",
        body=request.body, create=create,
    )  # fmt: skip
    # Built by incident_out, like the list (``prebuilt_json``; test_api holds it to the schema).
    answer = prebuilt_json(body, status)
    answer["ETag"] = etag(body["id"], body["version"])
    answer["Location"] = f"/api/v1/incidents/{body['id']}"
    return answer


@router.get("/incidents/{incident_id}", response={200: IncidentOut, **ERRORS})
def get_incident(request: HttpRequest, incident_id: IncidentId) -> Any:
    return _respond(request, incident_id)


@router.patch("/incidents/{incident_id}", response={200: IncidentOut, **WRITE_ERRORS})
def update_incident(request: HttpRequest, incident_id: IncidentId, payload: IncidentPatch) -> Any:
    """Change card fields. Send ``If-Match`` with the ETag you read to avoid lost updates."""
    pk = _visible(request, incident_id)
    services.do_update_incident(
        incident=pk, actor=_user(request), changes=payload.dict(exclude_unset=True),
        expected_version=expected_version(request, pk),
    )  # fmt: skip
    return _respond(request, pk)


def _action(request: HttpRequest, pk: int, verb: Any, **kwargs: Any) -> Any:
    _visible(request, pk)
    verb(
        incident=pk, actor=_user(request), expected_version=expected_version(request, pk), **kwargs
    )
    return _respond(request, pk)


@router.post("/incidents/{incident_id}/assign", response={200: IncidentOut, **WRITE_ERRORS})
def assign(request: HttpRequest, incident_id: IncidentId, payload: AssignIn) -> Any:
    return _action(
        request, incident_id, services.do_assign,
        group=resolve(SupportGroup, payload.group, "group"),
        assignee=resolve(User, payload.assignee, "assignee"),
    )  # fmt: skip


@router.post("/incidents/{incident_id}/accept", response={200: IncidentOut, **WRITE_ERRORS})
def accept(request: HttpRequest, incident_id: IncidentId) -> Any:
    """The caller takes the incident and works on it (also resumes a pending one)."""
    return _action(request, incident_id, services.do_accept)


@router.post("/incidents/{incident_id}/pending", response={200: IncidentOut, **WRITE_ERRORS})
def pending(request: HttpRequest, incident_id: IncidentId, payload: PendingIn) -> Any:
    return _action(
        request, incident_id, services.do_set_pending, reason=payload.reason,
        comment=payload.comment,
    )  # fmt: skip


@router.post("/incidents/{incident_id}/escalate", response={200: IncidentOut, **WRITE_ERRORS})
def escalate(request: HttpRequest, incident_id: IncidentId, payload: EscalateIn) -> Any:
    """Functional: to the next support level's group for the technology (409 when
    there is none). Hierarchical: to the next manager of the chain."""
    return _action(
        request, incident_id, services.do_escalate, reason=payload.reason,
        comment=payload.comment, kind=payload.kind,
        manager=resolve(User, payload.manager, "manager"),
    )  # fmt: skip


@router.post("/incidents/{incident_id}/de-escalate", response={200: IncidentOut, **WRITE_ERRORS})
def de_escalate(
    request: HttpRequest,
    incident_id: IncidentId,
    payload: DeEscalateIn | None = None,
) -> Any:
    return _action(
        request, incident_id, services.do_de_escalate,
        reason=payload.reason if payload else "",
    )  # fmt: skip


@router.post("/incidents/{incident_id}/resolve", response={200: IncidentOut, **WRITE_ERRORS})
def resolve_incident(request: HttpRequest, incident_id: IncidentId, payload: ResolveIn) -> Any:
    return _action(
        request, incident_id, services.do_resolve,
        resolution_code=payload.resolution_code, resolution=payload.resolution,
    )  # fmt: skip


@router.post("/incidents/{incident_id}/close", response={200: IncidentOut, **WRITE_ERRORS})
def close(
    request: HttpRequest,
    incident_id: IncidentId,
    payload: CloseIn | None = None,
) -> Any:
    """The reporter confirms the resolution (and may rate it 1-5)."""
    return _action(
        request, incident_id, services.do_close,
        satisfaction=payload.satisfaction if payload else None,
        comment=payload.comment if payload else "",
    )  # fmt: skip


@router.post("/incidents/{incident_id}/reopen", response={200: IncidentOut, **WRITE_ERRORS})
def reopen(
    request: HttpRequest,
    incident_id: IncidentId,
    payload: ReasonIn | None = None,
) -> Any:
    """The reporter rejects the resolution."""
    return _action(
        request, incident_id, services.do_reopen, reason=payload.reason if payload else ""
    )


@router.post("/incidents/{incident_id}/cancel", response={200: IncidentOut, **WRITE_ERRORS})
def cancel(
    request: HttpRequest,
    incident_id: IncidentId,
    payload: ReasonIn | None = None,
) -> Any:
    return _action(
        request, incident_id, services.do_cancel, reason=payload.reason if payload else ""
    )


@router.get("/incidents/{incident_id}/timeline", response={200: list[EventOut], **ERRORS})
def timeline(request: HttpRequest, incident_id: IncidentId) -> Any:
    incident = selectors.get_incident(_user(request), incident_id, related=False)
    return [
        {"id": e.pk, "type": e.type, "actor": ref(e.actor), "at": e.at, "payload": e.payload}
        for e in selectors.timeline(_user(request), incident)
    ]


def _comment_out(comment: Any) -> dict[str, Any]:
    return {"id": comment.pk, "author": ref(comment.author), "body": comment.body,
            "public": comment.public, "created_at": comment.created_at}  # fmt: skip


@router.get("/incidents/{incident_id}/comments", response={200: list[CommentOut], **ERRORS})
def list_comments(request: HttpRequest, incident_id: IncidentId) -> Any:
    incident = selectors.get_incident(_user(request), incident_id, related=False)
    return [_comment_out(c) for c in selectors.comments(_user(request), incident)]


@router.post("/incidents/{incident_id}/comments", response={201: CommentOut, **WRITE_ERRORS})
def add_comment(request: HttpRequest, incident_id: IncidentId, payload: CommentIn) -> Any:
    user = _user(request)
    pk = _visible(request, incident_id)
    public = payload.public if payload.public is not None else not user.is_support_staff
    comment = services.do_add_comment(incident=pk, actor=user, body=payload.body, public=public)
    return Status(201, _comment_out(comment))


def _task_out(task: Task) -> dict[str, Any]:
    from servicedesk.core import clock

    return {
        "id": task.pk, "title": task.title, "assignee": ref(task.assignee), "partner": ref(task.partner),
        "due_at": task.due_at, "done_at": task.done_at, "created_by": ref(task.created_by),
        "created_at": task.created_at,
        "overdue": task.done_at is None and task.due_at is not None and task.due_at < clock.now(),
    }  # fmt: skip


@router.get("/incidents/{incident_id}/tasks", response={200: list[TaskOut], **ERRORS})
def list_tasks(request: HttpRequest, incident_id: IncidentId) -> Any:
    incident = selectors.get_incident(_user(request), incident_id, related=False)
    if not _user(request).is_support_staff:
        return []
    return [
        _task_out(t) for t in incident.tasks.select_related("assignee", "partner", "created_by")
    ]


@router.post("/incidents/{incident_id}/tasks", response={201: TaskOut, **WRITE_ERRORS})
def add_task(request: HttpRequest, incident_id: IncidentId, payload: TaskIn) -> Any:
    pk = _visible(request, incident_id)
    task = services.do_add_task(
        incident=pk, actor=_user(request), title=payload.title,
        assignee=resolve(User, payload.assignee, "assignee", is_active=True),
        partner=resolve(Partner, payload.partner, "partner"), due_at=payload.due_at,
    )  # fmt: skip
    return Status(201, _task_out(task))


@router.patch("/incidents/{incident_id}/tasks/{task_id}", response={200: TaskOut, **WRITE_ERRORS})
def complete_task(
    request: HttpRequest, incident_id: IncidentId, task_id: TaskId, payload: TaskPatch
) -> Any:
    pk = _visible(request, incident_id)
    task = Task.objects.filter(pk=task_id, incident_id=pk).first()
    if task is None:
        raise NotFound(f"Task {task_id} does not exist on this incident.")
    task = services.do_complete_task(task=task, actor=_user(request))
    return _task_out(task)
