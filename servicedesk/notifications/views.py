"""Pages of communications: the user's in-app notifications (unread and recent,
mark read), the unread count for the navigation badge, and the incident
page's panel: watch / stop watching, a hand-written status update to the
stakeholders, the incident's action requests (mark done). Reads through the
selectors; changes only through ``services``."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from servicedesk.accounts import permissions
from servicedesk.accounts.models import Role, User
from servicedesk.core import clock
from servicedesk.core.errors import FieldError, NotFound, ServiceError
from servicedesk.core.pagination import keyset_page
from servicedesk.incidents import selectors as incident_selectors
from servicedesk.incidents.models import Incident
from servicedesk.web import errors as web_errors
from servicedesk.web.views.base import htmx_target, signed_in, staff_required, user_of
from servicedesk.web.views.incident import context_for

from . import conf, selectors, services
from .labels import language_of
from .models import ActionState, Channel, SubjectType, Watcher, action_text

PAGE = 50
# The navigation badge listens for this event (docs/ui.md): sent after marking read.
BADGE_EVENT = "sd-badges"


# ---- in-app notifications ---------------------------------------------------------------------


@signed_in
def notification_list(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    show_all = request.GET.get("show") == "all"
    qs = selectors.notifications(user, include_read=show_all)
    try:
        rows, next_cursor = keyset_page(qs, cursor=request.GET.get("cursor") or None, limit=PAGE)
    except ServiceError:
        rows, next_cursor = keyset_page(qs, cursor=None, limit=PAGE)
    context = {"notifications": rows, "next_cursor": next_cursor, "show_all": show_all}
    if htmx_target(request) == "notifications":
        return render(request, "notifications/_list.html", context)
    return render(request, "notifications/list.html", context)


@signed_in
def unread_count(request: HttpRequest) -> HttpResponse:
    """The badge's text: the number of unread notifications, empty for none."""
    count = selectors.notifications(user_of(request)).count()
    response = HttpResponse(str(count) if count else "", content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response


@signed_in
@require_POST
def mark_read(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Mark one notification read, or (without ``pk``) all unread ones."""
    user = user_of(request)
    if (
        pk is not None
        and not selectors.notifications(user, include_read=True).filter(pk=pk).exists()
    ):
        raise Http404(_("This notification does not exist."))
    count = services.do_mark_read(user=user, ids=None if pk is None else [pk])
    if pk is None:
        messages.success(request, _("All notifications marked read."))
    url = reverse("notifications:list")
    if request.POST.get("show") == "all":
        url += "?show=all"
    if not htmx_target(request):
        return HttpResponseRedirect(url)
    response = notification_list_fragment(request, show_all=request.POST.get("show") == "all")
    if count:
        response["HX-Trigger"] = BADGE_EVENT
    return response


def notification_list_fragment(request: HttpRequest, *, show_all: bool) -> HttpResponse:
    qs = selectors.notifications(user_of(request), include_read=show_all)
    rows, next_cursor = keyset_page(qs, cursor=None, limit=PAGE)
    return render(request, "notifications/_list.html", {
        "notifications": rows, "next_cursor": next_cursor, "show_all": show_all, "fragment": True,
    })  # fmt: skip


# ---- the incident page's panel ---------------------------------------------------------------------


class StatusUpdateForm(forms.Form):
    text = forms.CharField(label=gettext_lazy("Status update"), max_length=10_000,
                           widget=forms.Textarea(attrs={"rows": 3}),
                           help_text=gettext_lazy("Goes to the reporter, the watchers, the groups "
                                                  "and the coordinator; recorded on the timeline."))  # fmt: skip
    channels = forms.MultipleChoiceField(
        label=gettext_lazy("Send by"), widget=forms.CheckboxSelectMultiple,
        choices=[(Channel.EMAIL, gettext_lazy("e-mail")), (Channel.INAPP, gettext_lazy("in-app"))],
        initial=[Channel.EMAIL, Channel.INAPP],
    )  # fmt: skip


class DoneForm(forms.Form):
    outcome = forms.CharField(label=gettext_lazy("Outcome"), required=False, max_length=200)


def _incident(request: HttpRequest, pk: int) -> Incident:
    try:
        return incident_selectors.get_incident(user_of(request), pk, related=False)
    except NotFound:
        raise Http404(_("This incident does not exist.")) from None


def _panel_context(request: HttpRequest, incident: Incident, *,
                   update_form: StatusUpdateForm | None = None) -> dict[str, Any]:  # fmt: skip
    user = user_of(request)
    now = clock.now()
    language = language_of(user.language or getattr(request, "LANGUAGE_CODE", "en"))
    watchers = list(
        Watcher.objects.filter(subject_type=SubjectType.INCIDENT, subject_id=incident.pk)
        .select_related("user")
        .order_by("id")
    )
    requests = list(
        selectors.action_requests(user)
        .filter(subject_type=SubjectType.INCIDENT, subject_id=incident.pk)
        .order_by("-id")[:20]
    )
    for r in requests:
        r.incident = incident  # the same record: no query per request in can_complete
        r.text = action_text(r.action, language)  # type: ignore[attr-defined]
        r.overdue = r.is_overdue(now)  # type: ignore[attr-defined]
        r.can_complete = r.state == ActionState.OPEN and services.can_complete(user, r)  # type: ignore[attr-defined]
    watching_ids = {w.user_id for w in watchers}
    # Colleagues and managers to add; end users watch their incidents from the portal.
    candidates = [
        person
        for person in User.objects.filter(is_active=True)
        .exclude(role=Role.END_USER)
        .order_by("first_name", "last_name", "username")
        if person.pk not in watching_ids
    ]
    may_work = permissions.can_work_incident(user, incident)
    updates_allowed = may_work and incident.severity <= conf.status_update_max_severity()
    return {
        "incident": incident, "watchers": watchers,
        "me": user.pk, "watching": user.pk in watching_ids, "watch_candidates": candidates,
        "action_requests": requests,
        "can_update": updates_allowed and incident.is_open,
        "update_form": update_form or StatusUpdateForm(prefix="update"),
        "done_form": DoneForm(prefix="done"),
        "max_severity": conf.status_update_max_severity(),
    }  # fmt: skip


def _panel(
    request: HttpRequest, incident: Incident, status: int = 200, **extra: Any
) -> HttpResponse:
    context = _panel_context(request, incident, update_form=extra.pop("update_form", None))
    context.update(extra)
    template = (
        "notifications/_incident_panel_body.html"
        if htmx_target(request)
        else "notifications/incident.html"
    )
    return render(request, template, context, status=status)


def _incident_main(request: HttpRequest, pk: int) -> HttpResponse:
    """After a change the timeline shows: the incident's main part, re-rendered."""
    if not htmx_target(request):
        return HttpResponseRedirect(reverse("web:incident", args=[pk]))
    context = context_for(request, _incident_full(request, pk))
    context["fragment"] = True
    response = render(request, "web/incident/_main.html", context)
    response["HX-Retarget"] = "#incident-main"
    response["HX-Reswap"] = "outerHTML"
    return response


def _incident_full(request: HttpRequest, pk: int) -> Incident:
    try:
        return incident_selectors.get_incident(user_of(request), pk)
    except NotFound:
        raise Http404(_("This incident does not exist.")) from None


def _refused(request: HttpRequest, incident: Incident, problem: str, **extra: Any) -> HttpResponse:
    if not htmx_target(request):
        messages.error(request, problem)
        return HttpResponseRedirect(reverse("web:incident", args=[incident.pk]))
    return _panel(request, incident, status=422, problem=problem, **extra)


@staff_required
def incident_panel(request: HttpRequest, pk: int) -> HttpResponse:
    """The panel's content (htmx), or, without JavaScript, a page of its own."""
    return _panel(request, _incident(request, pk))


@staff_required
@require_POST
def watch(request: HttpRequest, pk: int) -> HttpResponse:
    """Watch the incident (``watch=1``) or stop watching it; with ``user``, add or
    remove that person (support staff may manage the incident's watchers)."""
    user = user_of(request)
    incident = _incident(request, pk)
    raw = request.POST.get("user", "")
    other = None
    if raw:
        other = (
            User.objects.filter(pk=int(raw), is_active=True).first()
            if raw.isdigit() and int(raw) < 2**31
            else None
        )
        if other is None:
            return _refused(request, incident, _("Choose an active person to add or remove."))
    adding = request.POST.get("watch") == "1"
    try:
        if adding:
            services.do_watch(actor=user, incident=incident, user=other)
        else:
            services.do_unwatch(actor=user, incident=incident, user=other)
    except ServiceError as exc:
        return _refused(request, incident, web_errors.message(exc))
    if other is None or other == user:
        done = (
            _("You are watching this incident.")
            if adding
            else _("You no longer watch this incident.")
        )
    else:
        done = (
            _("%(name)s now watches this incident.")
            if adding
            else _("%(name)s no longer watches this incident.")
        ) % {"name": other}
    messages.success(request, done)
    if not htmx_target(request):
        return HttpResponseRedirect(reverse("web:incident", args=[pk]))
    return _panel(request, incident, fragment=True)


def _update_error(exc: ServiceError) -> str:
    text = str(exc)
    if text.startswith("Hand-written status updates are for incidents of severity"):
        return _("Status updates are for incidents of severity 1 to %(max)s.") % {
            "max": conf.status_update_max_severity()
        }
    return web_errors.message(exc)


@staff_required
@require_POST
def status_update(request: HttpRequest, pk: int) -> HttpResponse:
    user = user_of(request)
    incident = _incident(request, pk)
    form = StatusUpdateForm(request.POST, prefix="update")
    if form.is_valid():
        try:
            _event, queued = services.do_send_status_update(
                incident=incident.pk, actor=user, text=form.cleaned_data["text"],
                channels=list(form.cleaned_data["channels"]),
            )  # fmt: skip
        except FieldError as exc:
            web_errors.attach(form, exc)
        except ServiceError as exc:
            form.add_error(None, _update_error(exc))
        else:
            messages.success(
                request, _("Status update sent (%(count)s messages).") % {"count": queued}
            )
            return _incident_main(request, pk)
    if not htmx_target(request):
        messages.error(request, " ".join(str(e) for errs in form.errors.values() for e in errs))
        return HttpResponseRedirect(reverse("web:incident", args=[pk]))
    return _panel(request, incident, status=422, update_form=form, open_update=True)


@staff_required
@require_POST
def action_request_done(request: HttpRequest, pk: int) -> HttpResponse:
    user = user_of(request)
    found = selectors.action_requests(user).filter(pk=pk).first()
    if found is None or found.incident_id is None:
        raise Http404(_("This action request does not exist."))
    incident = _incident(request, found.incident_id)
    form = DoneForm(request.POST, prefix="done")
    outcome = form.cleaned_data["outcome"] if form.is_valid() else ""
    try:
        services.do_complete_action_request(request=found.pk, actor=user, outcome=outcome)
    except ServiceError as exc:
        text = str(exc)
        problem = (
            _("The action request is no longer open.") if text.startswith("The action request is already")
            else _("Only the addressee or people working the incident may do that.")
            if text.startswith("Only the addressee") else web_errors.message(exc)
        )  # fmt: skip
        return _refused(request, incident, problem)
    messages.success(request, _("Action request done."))
    return _incident_main(request, incident.pk)
