"""The agent workspace at ``/``: queues, filters shared with the API, bulk actions."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST
from pydantic import ValidationError

from servicedesk.core.errors import ServiceError
from servicedesk.incidents import selectors as incident_selectors
from servicedesk.incidents import services as incident_services
from servicedesk.incidents.models import Status, format_number, parse_number
from servicedesk.incidents.schemas import IncidentFilterIn

from .. import errors, selectors
from ..forms import BulkForm
from .base import page_or_fragment, safe_next, staff_required, user_of

PAGE_SIZE = 50
# Filters that take several values (?severity=1&severity=2), as in the API.
LIST_FILTERS = ("status", "severity", "priority", "support_level")


def parse_filters(query: QueryDict) -> tuple[incident_selectors.IncidentFilter, list[str]]:
    """The API's filter schema applied to the page's query string.

    Returns the filter and the names of parameters that were invalid (and
    ignored), so a bad link narrows nothing instead of failing."""
    data: dict[str, Any] = {}
    for name in IncidentFilterIn.model_fields:
        if name in ("cursor", "limit"):
            continue
        values = [v for v in query.getlist(name) if v.strip() != ""]
        if values:
            data[name] = values if name in LIST_FILTERS else values[0]
    invalid: list[str] = []
    while True:
        try:
            parsed = IncidentFilterIn.model_validate(data)
            break
        except ValidationError as exc:
            bad = {str(err["loc"][0]) for err in exc.errors() if err["loc"]}
            if not bad & set(data):
                raise
            invalid.extend(sorted(bad & set(data)))
            for name in bad:
                data.pop(name, None)
    return incident_selectors.IncidentFilter(**parsed.dict(exclude={"cursor", "limit"})), invalid


@staff_required
def workspace(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    queue = request.GET.get("queue", "")
    if queue not in selectors.QUEUE_KEYS:
        queue = selectors.default_queue(user)
    filters, invalid = parse_filters(request.GET)
    # The top bar's search: a number the user may see opens that incident.
    pk = parse_number(filters.text) if request.GET.get("go") and filters.text else None
    if pk and incident_selectors.visible_incidents(user).filter(pk=pk).exists():
        return HttpResponseRedirect(reverse("web:incident", args=[pk]))
    groups = selectors.support_groups()
    scope = selectors.scope(user, groups)
    qs = filters.apply(selectors.queue_incidents(scope, queue, open_only=not filters.status))
    cursor = request.GET.get("cursor") or None
    try:
        rows, next_cursor = selectors.queue_page(qs, cursor=cursor, limit=PAGE_SIZE)
    except ServiceError:
        invalid.append("cursor")
        rows, next_cursor = selectors.queue_page(qs, cursor=None, limit=PAGE_SIZE)
    counts = selectors.queue_counts(scope)
    context = {
        "queues": [(q, q.key == queue, counts[q.key]) for q in selectors.QUEUES],
        "queue": queue,
        "incidents": rows,
        "next_cursor": next_cursor,
        "first_page": not cursor,
        "filters": filters,
        "invalid_filters": invalid,
        "groups": [g for g in groups if g.is_active],
        "technologies": selectors.technologies(),
        "severities": selectors.severity_levels(),
        "statuses": Status.choices,
        "bulk_form": BulkForm(),
        "current_url": request.get_full_path(),
    }  # fmt: skip
    return page_or_fragment(
        request, "web/workspace/page.html", {"queue": "web/workspace/_queue.html"}, context
    )


@staff_required
@require_POST
def bulk(request: HttpRequest) -> HttpResponse:
    """Assign or escalate the selected incidents, each in its own transaction; the
    ones a service refuses are listed with the reason."""
    user = user_of(request)
    form = BulkForm(request.POST)
    back = safe_next(request, request.POST.get("next"), reverse("web:workspace"))
    if not form.is_valid():
        for field_errors in form.errors.values():
            for error in field_errors:
                messages.error(request, str(error))
        return HttpResponseRedirect(back)
    data = form.cleaned_data
    action = data["action"]
    if action == "assign" and data["group"] is None:
        messages.error(request, _("Choose the group to assign the incidents to."))
        return HttpResponseRedirect(back)
    done = 0
    for pk in data["ids"][:200]:
        try:
            if action == "assign":
                incident_services.do_assign(incident=pk, actor=user, group=data["group"])
            else:
                incident_services.do_escalate(
                    incident=pk, actor=user, reason=data["reason"] or "insufficient_knowledge"
                )
            done += 1
        except ServiceError as exc:
            messages.error(request, f"{format_number(pk)}: {errors.message(exc)}")
    if done:
        text = (
            ngettext("%(count)d incident assigned.", "%(count)d incidents assigned.", done)
            if action == "assign"
            else ngettext("%(count)d incident escalated.", "%(count)d incidents escalated.", done)
        )
        messages.success(request, text % {"count": done})
    return HttpResponseRedirect(back)
