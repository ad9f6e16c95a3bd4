"""The 1st line's registration form: reporter lookup with phone, service/CI pickers,
severity shown live from the blocked users."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from servicedesk.accounts.models import User
from servicedesk.core.errors import ServiceError
from servicedesk.incidents import services
from servicedesk.incidents.models import Incident
from servicedesk.incidents.severity import priority_for, severity_for
from servicedesk.knownerrors import search
from servicedesk.knownerrors import services as known_errors

from .. import errors, selectors
from ..forms import RegisterForm
from .base import staff_required, user_of


def _int(value: str | None, default: int, low: int, high: int) -> int:
    try:
        number = int(value or "")
    except ValueError:
        return default
    return min(max(number, low), high)


def _reporter_choices(form: RegisterForm, chosen: User | None) -> list[User]:
    return [chosen] if chosen is not None else []


@staff_required
def register(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    chosen: User | None = None
    if request.method == "POST":
        form = RegisterForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            chosen = data["reporter"]
            try:
                incident = _register(user, data)
            except ServiceError as exc:
                errors.attach(form, exc)
            else:
                messages.success(request, _registered_message(incident, data))
                return HttpResponseRedirect(reverse("web:incident", args=[incident.pk]))
        else:
            raw = request.POST.get("reporter", "")
            if raw.isdigit() and int(raw) < 2**31:
                chosen = selectors.active_person(int(raw))
    else:
        form = RegisterForm()
    service_id = form["service"].value()
    context: dict[str, Any] = {
        "form": form,
        "reporters": _reporter_choices(form, chosen),
        "chosen_reporter": chosen.pk if chosen else None,
        "severity": _severity_context(
            form["affected_users"].value(), form["impact"].value(), form["urgency"].value()
        ),
        "ci_options": selectors.configuration_items(
            int(service_id) if str(service_id or "").isdigit() else None
        ),
    }
    return render(request, "web/register.html", context, status=422 if form.errors else 200)


@transaction.atomic
def _register(user: User, data: dict[str, Any]) -> Incident:
    """Register the incident and apply the workaround chosen while registering, as
    one change: a workaround that cannot be applied registers nothing, and the
    form comes back filled in with the reason."""
    incident = services.do_create_incident(
        actor=user, reporter=data["reporter"], title=data["title"],
        description=data["description"],
        contact_phone=data["contact_phone"] or None, source=data["source"],
        service=data["service"], configuration_item=data["configuration_item"],
        category=data["category"], affected_users=data["affected_users"],
        business_impact=data["business_impact"], impact=data["impact"],
        urgency=data["urgency"], severity=data["severity"],
        severity_reason=data["severity_reason"],
        assigned_group=data["assigned_group"],
    )  # fmt: skip
    if data.get("known_error"):
        known_errors.do_apply_workaround(
            incident=incident, known_error=data["known_error"], actor=user,
            resolve=bool(data.get("known_error_resolve")),
            match=search.evidence_for(incident, data["known_error"]),
        )  # fmt: skip
        incident.refresh_from_db()
    return incident


def _registered_message(incident: Incident, data: dict[str, Any]) -> str:
    if not data.get("known_error"):
        return _("%(number)s registered.") % {"number": incident.number}
    if data.get("known_error_resolve"):
        return _(
            "%(number)s registered, the known workaround applied and the incident resolved."
        ) % {"number": incident.number}
    return _("%(number)s registered and the known workaround applied.") % {
        "number": incident.number
    }


@staff_required
def reporter_lookup(request: HttpRequest) -> HttpResponse:
    """Matching people as radio choices (name, phone, department)."""
    query = request.GET.get("q", "")[:100]
    return render(
        request, "web/register/_reporters.html",
        {"reporters": selectors.find_reporters(query), "query": query, "chosen_reporter": None},
    )  # fmt: skip


def _severity_context(affected: Any, impact: Any, urgency: Any) -> dict[str, Any]:
    users = _int(str(affected) if affected is not None else None, 1, 0, 100_000_000)
    severity = severity_for(users)
    band = selectors.severity_band(severity)
    return {
        "affected_users": users,
        "severity": severity,
        "band": band,
        "priority": priority_for(_int(str(impact), 2, 1, 3), _int(str(urgency), 2, 1, 3)),
    }


@staff_required
def severity_preview(request: HttpRequest) -> HttpResponse:
    """Severity (from the blocked users, ``severity_for``) and priority, live."""
    return render(
        request, "web/register/_severity.html",
        {"severity": _severity_context(request.GET.get("affected_users"),
                                       request.GET.get("impact"), request.GET.get("urgency"))},
    )  # fmt: skip


@staff_required
def configuration_items(request: HttpRequest) -> HttpResponse:
    """The CI picker's options for the chosen service; a CI already chosen stays
    chosen when it belongs to that service."""
    raw = request.GET.get("service", "")
    service_id = int(raw) if raw.isdigit() and int(raw) < 2**31 else None
    return render(
        request, "web/register/_ci_options.html",
        {"ci_options": selectors.configuration_items(service_id),
         "selected": request.GET.get("configuration_item") or None},
    )  # fmt: skip
