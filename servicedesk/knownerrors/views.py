"""Pages of error control: the KEDB, a known error, fix projects, the incident
page's panel of matching known errors (with "apply workaround"), and the
portal's search of published workarounds. Read through the selectors and the
matching service; change state only through ``services``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from servicedesk.accounts import permissions
from servicedesk.accounts.models import User
from servicedesk.catalog.models import ConfigurationItem, Service
from servicedesk.core import clock
from servicedesk.core.errors import NotFound, ServiceError
from servicedesk.core.pagination import keyset_page
from servicedesk.incidents import selectors as incident_selectors
from servicedesk.incidents.models import Incident
from servicedesk.web import errors as web_errors
from servicedesk.web.views.base import htmx_target, staff_required, user_of
from servicedesk.web.views.incident import context_for

from . import search, selectors, services
from .models import Audience, FixStatus, KnownError, Status
from .ui import reason_text

PAGE = 50
PANEL_MATCHES = 5
PORTAL_MATCHES = 20


# ---- forms -------------------------------------------------------------------------------------


def _choices(choices: Any, anything: Any) -> list[tuple[str, Any]]:
    return [("", anything), *choices]


class KnownErrorSearchForm(forms.Form):
    q = forms.CharField(label=gettext_lazy("Search"), required=False, max_length=500,
                        help_text=gettext_lazy("Symptoms in the user's words, or KE-…"))  # fmt: skip
    status = forms.ChoiceField(label=gettext_lazy("Status"), required=False,
                               choices=_choices(Status.choices, gettext_lazy("any")))  # fmt: skip
    audience = forms.ChoiceField(label=gettext_lazy("Workaround"), required=False,
                                 choices=_choices(Audience.choices, gettext_lazy("any")))  # fmt: skip
    rising = forms.BooleanField(label=gettext_lazy("Incident rate rising"), required=False)


class FixProjectFilterForm(forms.Form):
    status = forms.ChoiceField(label=gettext_lazy("Status"), required=False,
                               choices=_choices(FixStatus.choices, gettext_lazy("any")))  # fmt: skip
    active = forms.BooleanField(label=gettext_lazy("Only active"), required=False)


class SolutionSearchForm(forms.Form):
    q = forms.CharField(label=gettext_lazy("Describe your problem"), required=False,
                        max_length=500)  # fmt: skip


class ApplyForm(forms.Form):
    known_error = forms.IntegerField(min_value=1, max_value=2**31 - 1)
    resolve = forms.BooleanField(required=False)


# ---- helpers --------------------------------------------------------------------------------------


@dataclass
class Found:
    """A known error as a search shows it: the record, and why it matched."""

    known_error: KnownError
    score: float | None = None
    reasons: tuple[str, ...] = ()


def _valid_fields(form: forms.Form) -> dict[str, Any]:
    """The values of the fields that are valid: an invalid filter is ignored
    (and shown next to its control), the others still apply."""
    if not form.is_bound:
        return {}
    form.is_valid()
    return dict(form.cleaned_data)


def _cursor(request: HttpRequest) -> str | None:
    return request.GET.get("cursor") or None


def _page(qs: QuerySet[Any], request: HttpRequest) -> tuple[list[Any], str | None]:
    try:
        return keyset_page(qs, cursor=_cursor(request), limit=PAGE)
    except ServiceError:  # a cursor this page never gave: start again
        return keyset_page(qs, cursor=None, limit=PAGE)


def _ranked(query: search.Query, qs: QuerySet[KnownError]) -> list[Found]:
    """``qs`` restricted to the matches of ``query``, in the matching service's order."""
    matches = search.match(query)
    rows = {ke.pk: ke for ke in qs.filter(pk__in=[m.known_error.pk for m in matches])}
    return [
        Found(rows[m.known_error.pk], m.score, tuple(reason_text(r) for r in m.reasons))
        for m in matches
        if m.known_error.pk in rows
    ]


def problem_url(problem_id: int | None) -> str:
    """The problem's page when the problems app has one (its pages are another
    capability's), else empty."""
    if problem_id is None:
        return ""
    try:
        return reverse("problems:detail", args=[problem_id])
    except NoReverseMatch:
        return ""


def _known_error(request: HttpRequest, pk: int) -> KnownError:
    try:
        return selectors.get_known_error(user_of(request), pk)
    except NotFound:
        raise Http404(_("This known error does not exist.")) from None


# ---- the KEDB ----------------------------------------------------------------------------------


@staff_required
def known_error_list(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    form = KnownErrorSearchForm(request.GET or None)
    data = _valid_fields(form)
    text = (data.get("q") or "").strip()
    number = selectors.parse_number(text) if text else None
    if number is not None:
        return HttpResponseRedirect(reverse("knownerrors:detail", args=[number]))
    qs = selectors.KnownErrorFilter(
        status=[data["status"]] if data.get("status") else None,
        audience=[data["audience"]] if data.get("audience") else None,
        rate_rising=True if data.get("rising") else None,
    ).apply(selectors.known_errors(user))
    next_cursor = None
    if text:
        found = _ranked(search.Query(text=text, limit=PAGE), qs)
    else:
        rows, next_cursor = _page(qs, request)
        found = [Found(ke) for ke in rows]
    query = request.GET.copy()
    query.pop("cursor", None)
    return render(request, "knownerrors/list.html", {
        "form": form, "found": found, "searching": bool(text), "next_cursor": next_cursor,
        "query": query.urlencode(),
    })  # fmt: skip


@staff_required
def known_error_detail(request: HttpRequest, pk: int) -> HttpResponse:
    ke = _known_error(request, pk)
    links = list(ke.incident_links.select_related("incident", "applied_by").order_by("-id")[:100])
    events = list(ke.events.select_related("actor").order_by("id"))
    for event in events:
        event.label = str(EVENT_LABELS.get(event.type, event.type.replace("_", " ")))  # type: ignore[attr-defined]
    fixes = sorted(ke.fix_projects.all(), key=lambda f: (f.priority, f.pk))
    return render(request, "knownerrors/detail.html", {
        "ke": ke, "caused_links": links, "events": events, "fixes": fixes,
        "problem_url": problem_url(ke.problem_id),
    })  # fmt: skip


EVENT_LABELS = {
    "created": gettext_lazy("registered"),
    "updated": gettext_lazy("changed"),
    "workaround_published": gettext_lazy("workaround published"),
    "workaround_withdrawn": gettext_lazy("workaround withdrawn"),
    "workaround_applied": gettext_lazy("workaround applied to an incident"),
    "status_changed": gettext_lazy("status changed"),
    "fix_started": gettext_lazy("fix started"),
    "fixed": gettext_lazy("fixed"),
    "accepted": gettext_lazy("accepted without fix"),
    "closed": gettext_lazy("closed"),
    "rate_rising": gettext_lazy("incident rate rising"),
}


@staff_required
def fix_project_list(request: HttpRequest) -> HttpResponse:
    form = FixProjectFilterForm(request.GET or None)
    data = _valid_fields(form)
    kwargs: dict[str, Any] = {
        "status": [data["status"]] if data.get("status") else None,
        "active": True if data.get("active") else None,
    }
    try:
        rows, next_cursor = selectors.fix_projects(**kwargs, cursor=_cursor(request), limit=PAGE)
    except ServiceError:
        rows, next_cursor = selectors.fix_projects(**kwargs, limit=PAGE)
    query = request.GET.copy()
    query.pop("cursor", None)
    return render(request, "knownerrors/fix_projects.html", {
        "form": form, "fixes": rows, "next_cursor": next_cursor, "query": query.urlencode(),
        "figures": selectors.figures(), "today": clock.now().date(),
    })  # fmt: skip


# ---- the incident page's panel ---------------------------------------------------------------


def _incident(request: HttpRequest, pk: int) -> Incident:
    try:
        return incident_selectors.get_incident(user_of(request), pk)
    except NotFound:
        raise Http404(_("This incident does not exist.")) from None


def _panel_context(request: HttpRequest, incident: Incident) -> dict[str, Any]:
    user = user_of(request)
    applied = list(
        incident.known_error_links.select_related("known_error", "applied_by").order_by("id")
    )
    applied_ids = {link.known_error_id for link in applied}
    matches = [
        f for f in _ranked(search.query_for_incident(incident, PANEL_MATCHES), selectors.known_errors(user))
        if f.known_error.pk not in applied_ids
    ]  # fmt: skip
    return {
        "incident": incident, "applied": applied, "matches": matches,
        "can_apply": incident.is_open and permissions.can_work_incident(user, incident),
    }  # fmt: skip


@staff_required
def incident_panel(request: HttpRequest, pk: int) -> HttpResponse:
    """The panel's content (htmx), or, without JavaScript, a page of its own."""
    incident = _incident(request, pk)
    context = _panel_context(request, incident)
    if htmx_target(request):
        return render(request, "knownerrors/_incident_matches.html", context)
    return render(request, "knownerrors/incident.html", context)


def _active(model: Any, raw: str | None) -> Any:
    """The active row whose id the form sent, or None for anything else."""
    if raw is None or not raw.isdigit() or int(raw) >= 2**31:
        return None
    return model.objects.filter(pk=int(raw), is_active=True).first()


@staff_required
def registration_matches(request: HttpRequest) -> HttpResponse:
    """Known errors matching what the registration form says so far (htmx, as the
    agent types): the agent may choose one whose workaround is applied, and the
    incident resolved, when it is registered."""
    text = f"{request.GET.get('title', '')[:200]}\n{request.GET.get('description', '')[:2000]}"
    item = _active(ConfigurationItem, request.GET.get("configuration_item"))
    service = _active(Service, request.GET.get("service"))
    query = search.Query(
        text=text, limit=PANEL_MATCHES, configuration_item=item,
        service=service or (item.service if item else None),
        technology=item.technology if item else None,
    )  # fmt: skip
    chosen = request.GET.get("known_error", "")
    return render(request, "knownerrors/_register_matches.html", {
        "matches": _ranked(query, selectors.known_errors(user_of(request))) if text.strip() else [],
        "searched": bool(text.strip()), "chosen": int(chosen) if chosen.isdigit() else None,
        "resolve": request.GET.get("known_error_resolve", "1") == "1",
    })  # fmt: skip


def _error(exc: ServiceError) -> str:
    text = str(exc)
    if "was already applied to" in text:
        return _("This workaround was already applied to the incident.")
    if "has no published workaround" in text:
        return _("This known error has no published workaround to apply.")
    if "only open incidents are resolved" in text:
        return _("The incident is no longer open.")
    return web_errors.message(exc)


@staff_required
@require_POST
def apply_workaround(request: HttpRequest, pk: int) -> HttpResponse:
    """Apply a known error's workaround (and, with ``resolve``, resolve the incident);
    the incident's main part is re-rendered (htmx) or the page reloaded."""
    user = user_of(request)
    incident = _incident(request, pk)
    form = ApplyForm(request.POST)
    problem = ""
    if not form.is_valid():
        problem = _("Choose a known error to apply.")
    else:
        ke_id, resolve = form.cleaned_data["known_error"], form.cleaned_data["resolve"]
        try:
            services.do_apply_workaround(
                incident=incident.pk, known_error=ke_id, actor=user, resolve=resolve,
                match=search.evidence_for(incident, ke_id),
            )  # fmt: skip
        except ServiceError as exc:
            problem = _error(exc)
        else:
            label = KnownError(pk=ke_id).number
            messages.success(request, (
                _("Workaround of %(known_error)s applied; the incident is resolved.") if resolve
                else _("Workaround of %(known_error)s applied.")
            ) % {"known_error": label})  # fmt: skip
    if not htmx_target(request):
        if problem:
            messages.error(request, problem)
        return HttpResponseRedirect(reverse("web:incident", args=[pk]))
    if problem:
        context = _panel_context(request, incident)
        context["problem"] = problem
        return render(request, "knownerrors/_incident_matches.html", context, status=422)
    context = context_for(request, _incident(request, pk))
    context["fragment"] = True
    response = render(request, "web/incident/_main.html", context)
    # The form aimed at the panel; the change concerns the whole incident.
    response["HX-Retarget"] = "#incident-main"
    response["HX-Reswap"] = "outerHTML"
    return response


# ---- the portal: published workarounds ---------------------------------------------------------


def _portal_known_errors(user: User) -> QuerySet[KnownError]:
    """Workarounds published for end users, whoever looks (staff see the portal's view)."""
    return (
        selectors.known_errors(user).filter(audience=Audience.PORTAL).exclude(status=Status.CLOSED)
    )


@login_required
def solutions(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    form = SolutionSearchForm(request.GET or None)
    text = (_valid_fields(form).get("q") or "").strip()
    next_cursor = None
    if text:
        found = _ranked(
            search.Query(text=text, portal_only=True, limit=PORTAL_MATCHES),
            _portal_known_errors(user),
        )
    else:
        rows, next_cursor = _page(_portal_known_errors(user), request)
        found = [Found(ke) for ke in rows]
    return render(request, "knownerrors/solutions.html", {
        "form": form, "found": found, "searching": bool(text), "next_cursor": next_cursor,
    })  # fmt: skip


@login_required
def solution(request: HttpRequest, pk: int) -> HttpResponse:
    ke = _portal_known_errors(user_of(request)).filter(pk=pk).first()
    if ke is None:
        raise Http404(_("This solution does not exist."))
    return render(request, "knownerrors/solution.html", {"ke": ke})
