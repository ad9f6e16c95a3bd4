"""The incident page: card, actions, tasks, worklog and timeline, updated in place.

The HTMX pattern (docs/ui.md): every action is an ordinary form that posts to
``/incidents/<pk>/<action>/``. Without HTMX it redirects back to the page
(or re-renders it with the errors, 422). With HTMX the response is the
``#incident-main`` fragment, re-rendered after the change, or with the
failing form open and its errors next to the fields.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms as dj_forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from servicedesk.accounts import permissions
from servicedesk.accounts.models import User
from servicedesk.core import clock
from servicedesk.core.errors import NotFound, ServiceError
from servicedesk.incidents import selectors as incident_selectors
from servicedesk.incidents import services
from servicedesk.incidents.models import Incident, Status
from servicedesk.incidents.transitions import allowed_next

from .. import errors, forms, selectors
from ..nav import contributions
from .base import after_action, is_staff, perform_action, staff_required, user_of

Handler = Callable[[User, Incident, dict[str, Any]], object]


def _assign(user: User, incident: Incident, d: dict[str, Any]) -> object:
    return services.do_assign(incident=incident.pk, actor=user, group=d["group"],
                              assignee=d["assignee"], expected_version=d.get("version"))  # fmt: skip


def _accept(user: User, incident: Incident, d: dict[str, Any]) -> object:
    return services.do_accept(incident=incident.pk, actor=user, expected_version=d.get("version"))


def _escalate(user: User, incident: Incident, d: dict[str, Any]) -> object:
    return services.do_escalate(incident=incident.pk, actor=user, kind=d["kind"],
                                reason=d["reason"], comment=d["comment"],
                                expected_version=d.get("version"))  # fmt: skip


def _de_escalate(user: User, incident: Incident, d: dict[str, Any]) -> object:
    return services.do_de_escalate(incident=incident.pk, actor=user, reason=d["reason"],
                                   expected_version=d.get("version"))  # fmt: skip


def _pending(user: User, incident: Incident, d: dict[str, Any]) -> object:
    return services.do_set_pending(incident=incident.pk, actor=user, reason=d["reason"],
                                   comment=d["comment"], expected_version=d.get("version"))  # fmt: skip


def _resolve(user: User, incident: Incident, d: dict[str, Any]) -> object:
    return services.do_resolve(incident=incident.pk, actor=user,
                               resolution_code=d["resolution_code"], resolution=d["resolution"],
                               expected_version=d.get("version"))  # fmt: skip


def _close(user: User, incident: Incident, d: dict[str, Any]) -> object:
    return services.do_close(incident=incident.pk, actor=user, expected_version=d.get("version"))


def _reopen(user: User, incident: Incident, d: dict[str, Any]) -> object:
    return services.do_reopen(incident=incident.pk, actor=user, reason=d["reason"],
                              expected_version=d.get("version"))  # fmt: skip


def _cancel(user: User, incident: Incident, d: dict[str, Any]) -> object:
    return services.do_cancel(incident=incident.pk, actor=user, reason=d["reason"],
                              expected_version=d.get("version"))  # fmt: skip


def _comment(user: User, incident: Incident, d: dict[str, Any]) -> object:
    return services.do_add_comment(incident=incident.pk, actor=user, body=d["body"],
                                   public=d["public"])  # fmt: skip


def _task(user: User, incident: Incident, d: dict[str, Any]) -> object:
    return services.do_add_task(incident=incident.pk, actor=user, title=d["title"],
                                assignee=d["assignee"], partner=d["partner"], due_at=d["due_at"])  # fmt: skip


def _edit(user: User, incident: Incident, d: dict[str, Any]) -> object:
    changes = {
        key: (value.pk if hasattr(value, "pk") else value)
        for key, value in d.items() if key != "version"
    }  # fmt: skip
    return services.do_update_incident(incident=incident.pk, actor=user, changes=changes,
                                       expected_version=d.get("version"))  # fmt: skip


# action -> (form class, handler, message on success)
ACTIONS: dict[str, tuple[type[dj_forms.Form], Handler, Any]] = {
    "assign": (forms.AssignForm, _assign, gettext_lazy("Assigned.")),
    "accept": (forms.AcceptForm, _accept, gettext_lazy("You are working on it now.")),
    "escalate": (forms.EscalateForm, _escalate, gettext_lazy("Escalated.")),
    "de-escalate": (forms.DeEscalateForm, _de_escalate, gettext_lazy("Handed back.")),
    "pending": (forms.PendingForm, _pending, gettext_lazy("Set to pending.")),
    "resolve": (forms.ResolveForm, _resolve, gettext_lazy("Resolved.")),
    "close": (forms.CloseForm, _close, gettext_lazy("Closed.")),
    "reopen": (forms.ReasonForm, _reopen, gettext_lazy("Reopened.")),
    "cancel": (forms.ReasonForm, _cancel, gettext_lazy("Cancelled.")),
    "comment": (forms.CommentForm, _comment, gettext_lazy("Added to the worklog.")),
    "task": (forms.TaskForm, _task, gettext_lazy("Task added.")),
    "edit": (forms.EditForm, _edit, gettext_lazy("Saved.")),
}


def available(user: User, incident: Incident) -> set[str]:
    """The actions to offer; the services still decide (a refused one shows why)."""
    if not permissions.can_work_incident(user, incident):
        return {"comment"}
    status = incident.status
    out = {"comment"}
    if incident.is_open:
        out |= {"assign", "escalate", "pending", "resolve", "cancel", "task", "edit"}
        if Status.IN_PROGRESS in allowed_next(status):
            out.add("accept")
        if incident.support_level > 1:
            out.add("de-escalate")
    elif status == Status.RESOLVED:
        out |= {"close", "reopen"}
    return out


def _initial(action: str, incident: Incident) -> dict[str, Any]:
    initial: dict[str, Any] = {"version": incident.version}
    if action == "assign":
        initial["group"] = incident.assigned_group_id
    if action == "edit":
        for name in forms.EditForm.base_fields:
            if name != "version":
                initial[name] = getattr(incident, f"{name}_id", None) if name in (
                    "service", "configuration_item", "category") else getattr(incident, name)  # fmt: skip
    return initial


def _build_forms(incident: Incident, actions: set[str], bound: tuple[str, dj_forms.Form] | None,
                 members: list[User]) -> dict[str, dj_forms.Form]:  # fmt: skip
    built: dict[str, dj_forms.Form] = {}
    # A refused action keeps its form on the page, with the reason, even when
    # the incident's state no longer offers it.
    for action in sorted(actions | ({bound[0]} if bound else set())):
        if bound is not None and bound[0] == action:
            form = bound[1]
        else:
            form = ACTIONS[action][0](initial=_initial(action, incident), prefix=action)
        if action == "assign":
            form.fields["group"].widget.attrs.update({
                "hx-get": reverse("web:group-members", args=[incident.pk]),
                "hx-target": "#id_assign-assignee", "hx-trigger": "change",
            })  # fmt: skip
        if "assignee" in form.fields:
            # Render only the people of the incident's group (HTMX swaps in another
            # group's members); validation accepts any staff, the service checks.
            form.fields["assignee"].choices = [("", "—")] + [(m.pk, str(m)) for m in members]  # type: ignore[attr-defined]
        built[action.replace("-", "_")] = form
    return built


def context_for(request: HttpRequest, incident: Incident,
                bound: tuple[str, dj_forms.Form] | None = None) -> dict[str, Any]:  # fmt: skip
    user = user_of(request)
    actions = available(user, incident)
    members = selectors.group_members(incident.assigned_group_id)
    return {
        "incident": incident,
        "events": list(incident_selectors.timeline(user, incident)),
        "comments": list(incident_selectors.comments(user, incident)),
        "tasks": list(incident.tasks.select_related("assignee", "partner").order_by("id")),
        "actions": actions,
        "forms": _build_forms(incident, actions, bound, members),
        "open_action": bound[0] if bound else None,
        "now_utc": clock.now(),
        # Capabilities add sections to the side column (docs/ui.md, "Slots").
        "panels": [p for m in contributions() for p in getattr(m, "INCIDENT_PANELS", [])],
    }


def _incident(request: HttpRequest, pk: int) -> Incident:
    try:
        return incident_selectors.get_incident(user_of(request), pk)
    except NotFound:
        raise Http404(_("This incident does not exist.")) from None


@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    if not is_staff(user_of(request)):
        # End users follow their incidents in the portal.
        return HttpResponseRedirect(reverse("web:portal-incident", args=[pk]))
    incident = _incident(request, pk)
    return render(request, "web/incident/page.html", context_for(request, incident))


def _respond(request: HttpRequest, incident: Incident,
             bound: tuple[str, dj_forms.Form] | None = None) -> HttpResponse:  # fmt: skip
    return after_action(
        request, context_for(request, incident, bound), main="web/incident/_main.html",
        page="web/incident/page.html", redirect_to=reverse("web:incident", args=[incident.pk]),
        refused=bound is not None,
    )  # fmt: skip


@staff_required
@require_POST
def action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    refused = perform_action(request, _incident(request, pk), ACTIONS, action)
    return _respond(request, _incident(request, pk), refused)


@staff_required
@require_POST
def task_done(request: HttpRequest, pk: int, task_id: int) -> HttpResponse:
    incident = _incident(request, pk)
    task = selectors.task_of(incident, task_id)
    if task is None:
        raise Http404
    try:
        services.do_complete_task(task=task, actor=user_of(request))
    except ServiceError as exc:
        messages.error(request, errors.message(exc))
    else:
        messages.success(request, _("Task done."))
    return _respond(request, _incident(request, pk))


@staff_required
def members(request: HttpRequest, pk: int) -> HttpResponse:
    """The <option>s of a group's people, for the assign form's person picker."""
    _incident(request, pk)
    raw = request.GET.get("assign-group", "")
    group_id = int(raw) if raw.isdigit() and int(raw) < 2**31 else None
    return render(
        request, "web/components/_person_options.html",
        {"people": selectors.group_members(group_id)},
    )  # fmt: skip
