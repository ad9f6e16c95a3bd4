"""The self-service portal for end users: report, follow, comment, confirm and rate."""

from __future__ import annotations

from typing import Any

from django import forms as dj_forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from servicedesk.core.errors import NotFound, ServiceError
from servicedesk.core.pagination import keyset_page
from servicedesk.incidents import selectors as incident_selectors
from servicedesk.incidents import services
from servicedesk.incidents.models import Incident, Source, Status

from .. import errors
from ..forms import PortalCloseForm, PortalCommentForm, PortalReopenForm, PortalReportForm
from .base import user_of

# The timeline a reporter sees: progress, not the support organisation's internals.
PORTAL_EVENTS = ("created", "escalated", "status_changed", "resolved", "closed", "reopened",
                 "cancelled")  # fmt: skip


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    qs = incident_selectors.visible_incidents(user).filter(reporter=user)
    try:
        rows, next_cursor = keyset_page(
            qs.select_related("service"), cursor=request.GET.get("cursor") or None, limit=25
        )
    except ServiceError:
        rows, next_cursor = keyset_page(qs.select_related("service"), cursor=None, limit=25)
    return render(request, "web/portal/home.html", {"incidents": rows, "next_cursor": next_cursor})


@login_required
def report(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    if request.method == "POST":
        form = PortalReportForm(request.POST)
        if form.is_valid():
            d = form.cleaned_data
            try:
                incident = services.do_create_incident(
                    actor=user, reporter=user, title=d["title"], description=d["description"],
                    service=d["service"], affected_users=d["affected_users"],
                    contact_phone=d["contact_phone"] or None, source=Source.PORTAL,
                )  # fmt: skip
            except ServiceError as exc:
                errors.attach(form, exc)
            else:
                messages.success(
                    request,
                    _("Thank you. Your incident is %(number)s; we will keep you posted here.")
                    % {"number": incident.number},
                )
                return HttpResponseRedirect(reverse("web:portal-incident", args=[incident.pk]))
    else:
        form = PortalReportForm(initial={"contact_phone": user.phone})
    return render(request, "web/portal/report.html", {"form": form},
                  status=422 if form.errors else 200)  # fmt: skip


def _own_incident(request: HttpRequest, pk: int) -> Incident:
    user = user_of(request)
    try:
        incident = incident_selectors.get_incident(user, pk)
    except NotFound:
        raise Http404(_("This incident does not exist.")) from None
    if incident.reporter_id != user.pk:
        # The portal is the reporter's view; staff use the incident page.
        raise Http404(_("This incident does not exist."))
    return incident


def _context(request: HttpRequest, incident: Incident,
             bound: tuple[str, dj_forms.Form] | None = None) -> dict[str, Any]:  # fmt: skip
    user = user_of(request)
    built: dict[str, dj_forms.Form] = {
        "comment": PortalCommentForm(prefix="comment"),
        "close": PortalCloseForm(initial={"version": incident.version}, prefix="close"),
        "reopen": PortalReopenForm(initial={"version": incident.version}, prefix="reopen"),
    }
    if bound is not None:
        built[bound[0]] = bound[1]
    return {
        "incident": incident,
        "events": [e for e in incident_selectors.timeline(user, incident)
                   if e.type in PORTAL_EVENTS],
        "comments": [c for c in incident_selectors.comments(user, incident) if c.public],
        "forms": built,
        "open_action": bound[0] if bound else None,
        "can_comment": incident.status not in (Status.CLOSED, Status.CANCELLED),
    }  # fmt: skip


@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    incident = _own_incident(request, pk)
    return render(request, "web/portal/incident.html", _context(request, incident))


PORTAL_ACTIONS: dict[str, type[dj_forms.Form]] = {
    "comment": PortalCommentForm,
    "close": PortalCloseForm,
    "reopen": PortalReopenForm,
    "cancel": dj_forms.Form,  # nothing to fill in
}


@login_required
@require_POST
def action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    if action not in PORTAL_ACTIONS:
        raise Http404
    user = user_of(request)
    _own_incident(request, pk)  # 404 unless it is the user's own
    form = PORTAL_ACTIONS[action](request.POST, prefix=action)
    if form.is_valid():
        d = form.cleaned_data
        try:
            if action == "comment":
                services.do_add_comment(incident=pk, actor=user, body=d["body"], public=True)
                done = _("Your comment is added.")
            elif action == "close":
                services.do_close(incident=pk, actor=user, satisfaction=d["satisfaction"],
                                  comment=d["comment"], expected_version=d.get("version"))  # fmt: skip
                done = _("Thank you for confirming.")
            elif action == "reopen":
                services.do_reopen(incident=pk, actor=user, reason=d["reason"],
                                   expected_version=d.get("version"))  # fmt: skip
                done = _("We are on it again.")
            else:
                services.do_cancel(incident=pk, actor=user, reason=_("Withdrawn by the reporter."))
                done = _("Your incident is withdrawn.")
        except ServiceError as exc:
            errors.attach(form, exc)
        else:
            messages.success(request, done)
            return HttpResponseRedirect(reverse("web:portal-incident", args=[pk]))
    context = _context(request, _own_incident(request, pk), (action, form))
    return render(request, "web/portal/incident.html", context, status=422)
