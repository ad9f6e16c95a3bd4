"""On-call pages: who is on call now, each schedule as a calendar, open pages.

The views read through ``selectors`` (who is on call is the rotation module's
answer, never recomputed here) and change state only through ``services``
(acknowledging a page). Times are shown in the reader's time zone (the
middleware activates it); calendar days are the reader's days.
"""

from __future__ import annotations

import calendar as cal
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib import messages
from django.db.models import F
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from servicedesk.accounts.models import SupportGroup, User
from servicedesk.core import clock
from servicedesk.core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from servicedesk.core.lookups import one
from servicedesk.web import errors
from servicedesk.web.views.base import htmx_target, page_or_fragment, staff_required, user_of

from . import ical, selectors, services
from .models import OnCallMember, OnCallOverride, OnCallSchedule, Page, PageState
from .selectors import ResponderOut

RECENT_DAYS = 7
MAX_OPEN = 200


# ---- who is on call now ------------------------------------------------------------------


@dataclass
class GroupRow:
    group: SupportGroup
    schedule_id: int | None
    primary: ResponderOut | None
    backups: list[ResponderOut]
    manager: ResponderOut | None


@dataclass
class TechnologySection:
    name: str
    rows: list[GroupRow] = field(default_factory=list)


def board(at: datetime) -> list[TechnologySection]:
    """Every active group's responders at ``at``, grouped by technology (the
    generalist groups, e.g. the service desk, first)."""
    groups = list(
        SupportGroup.objects.filter(is_active=True)
        .select_related("technology", "manager")
        .order_by(F("technology__name").asc(nulls_first=True), "level", "name")
    )
    found = selectors.responders_by_group(groups, at)
    schedules = dict(OnCallSchedule.objects.filter(group__in=groups).values_list("group_id", "pk"))
    sections: dict[int | None, TechnologySection] = {}
    for group in groups:
        section = sections.setdefault(
            group.technology_id,
            TechnologySection(str(group.technology) if group.technology else _("All technologies")),
        )
        people = [r for r in found[group.pk] if r.source != "manager"]
        manager = next((r for r in found[group.pk] if r.source == "manager"), None)
        section.rows.append(GroupRow(
            group, schedules.get(group.pk), people[0] if people else None, people[1:], manager,
        ))  # fmt: skip
    return list(sections.values())


# What a calendar subscription shows: the last week and the next eight.
FEED_PAST = timedelta(days=7)
FEED_DAYS = 63


@require_GET
def feed(request: HttpRequest, pk: int) -> HttpResponse:
    """The schedule's calendar subscription (``?key=`` from ``POST
    /api/v1/oncall/schedules/{id}/feed``): no sign-in, since calendar
    applications cannot send one; a wrong or withdrawn key is a 404."""
    schedule = services.schedule_for_feed(pk, request.GET.get("key", ""))
    if schedule is None:
        raise Http404(_("This on-call schedule does not exist."))
    now = clock.now()
    body = selectors.ical_feed(schedule, start=now - FEED_PAST, days=FEED_DAYS, now=now)
    response = ical.http_response(schedule.pk, body)
    # Calendar applications poll: let proxies keep it briefly, never share it.
    response["Cache-Control"] = "private, max-age=300"
    return response


@staff_required
def now(request: HttpRequest) -> HttpResponse:
    at = clock.now()
    context = {"at": at, "sections": board(at)}
    return page_or_fragment(request, "oncall/now.html", {}, context)


# ---- a schedule as a calendar ------------------------------------------------------------


@dataclass
class Period:
    """Who is on call from ``start`` to ``end`` (within one day of the reader)."""

    start: datetime
    end: datetime
    ends_at_midnight: bool
    primary: ResponderOut | None
    backups: list[ResponderOut]

    @property
    def override(self) -> bool:
        return any(r.source == "override" for r in [self.primary, *self.backups] if r)


@dataclass
class Day:
    day: date
    in_range: bool
    today: bool
    periods: list[Period] = field(default_factory=list)


def _parse_day(raw: str | None, default: date) -> date:
    try:
        return date.fromisoformat(raw) if raw else default
    except ValueError:
        return default


def _grid(view: str, anchor: date) -> tuple[date, date, date, date]:
    """(first shown day, last shown day, previous anchor, next anchor): whole
    weeks from Monday; a month view shows the weeks the month touches."""
    if view == "month":
        first = anchor.replace(day=1)
        last = first.replace(day=cal.monthrange(first.year, first.month)[1])
        previous = (first - timedelta(days=1)).replace(day=1)
        return (first - timedelta(days=first.weekday()),
                last + timedelta(days=6 - last.weekday()), previous, last + timedelta(days=1))  # fmt: skip
    monday = anchor - timedelta(days=anchor.weekday())
    return (
        monday,
        monday + timedelta(days=6),
        monday - timedelta(days=7),
        monday + timedelta(days=7),
    )


def calendar_days(
    schedule: OnCallSchedule, first: date, last: date, *, in_range: tuple[date, date], today: date
) -> list[Day]:
    """Each day from ``first`` to ``last`` (the reader's days) with who is on
    call in each period of it: the rotation module's coverage, cut at the
    reader's midnights."""
    tz = timezone.get_current_timezone()
    count = (last - first).days + 1
    midnights = [datetime.combine(first + timedelta(days=i), time(0), tzinfo=tz)
                 for i in range(count + 1)]  # fmt: skip
    start, end = midnights[0], midnights[-1]
    loaded = selectors.load_schedules([schedule], start=start, end=end)[schedule.pk]
    covers = loaded.spec.coverage(start, end, midnights)
    people = User.objects.in_bulk({r.person for c in covers for r in c.responders})
    days = [Day(first + timedelta(days=i), in_range[0] <= first + timedelta(days=i) <= in_range[1],
                first + timedelta(days=i) == today) for i in range(count)]  # fmt: skip
    for cover in covers:
        index = (cover.start.astimezone(tz).date() - first).days
        if not 0 <= index < count:
            continue
        found = [
            ResponderOut(people[r.person], loaded.layers.get(r.layer_id or 0), r.source, r.until)
            for r in cover.responders if r.person in people
        ]  # fmt: skip
        days[index].periods.append(Period(
            cover.start, cover.end, cover.end == midnights[index + 1],
            found[0] if found else None, found[1:],
        ))  # fmt: skip
    return days


@staff_required
def schedule(request: HttpRequest, pk: int) -> HttpResponse:
    return _schedule_page(request, pk)


@staff_required
@require_POST
def feed_link(request: HttpRequest, pk: int) -> HttpResponse:
    """The keeper's calendar subscription: a new link (shown once) or none."""
    user = user_of(request)
    extra: dict[str, Any] = {}
    try:
        if request.POST.get("do") == "stop":
            services.do_disable_feed(actor=user, schedule=pk)
            messages.success(request, _("The calendar subscription is stopped."))
        else:
            key = services.do_new_feed_key(actor=user, schedule=pk)
            extra["feed_url"] = ical.subscription_url(request, pk, key)
    except NotFound:
        raise Http404(_("This on-call schedule does not exist.")) from None
    except ServiceError as exc:
        messages.error(request, errors.message(exc))
    return _schedule_page(request, pk, **extra)


def _schedule_page(request: HttpRequest, pk: int, **extra: Any) -> HttpResponse:
    found = one(
        OnCallSchedule.objects.select_related("group__manager", "group__technology").filter(pk=pk)
    )
    if found is None:
        raise Http404(_("This on-call schedule does not exist."))
    view = "month" if request.GET.get("view") == "month" else "week"
    today = timezone.localdate(clock.now())
    anchor = _parse_day(request.GET.get("date"), today)
    first, last, previous, following = _grid(view, anchor)
    in_range = (
        (anchor.replace(day=1), following - timedelta(days=1)) if view == "month" else (first, last)
    )
    days = calendar_days(found, first, last, in_range=in_range, today=today)
    tz = timezone.get_current_timezone()
    start = datetime.combine(first, time(0), tzinfo=tz)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz)
    overrides = list(
        OnCallOverride.objects.filter(schedule=found, ends_at__gt=start, starts_at__lt=end)
        .select_related("person", "layer")
        .order_by("starts_at")
    )
    members: dict[int, list[User]] = {}
    for member in OnCallMember.objects.filter(layer__schedule=found).select_related("user"):
        members.setdefault(member.layer_id, []).append(member.user)
    layers = [(layer, members.get(layer.pk, [])) for layer in found.layers.order_by("position")]
    context: dict[str, Any] = {
        "schedule": found, "view": view, "anchor": anchor, "first": first, "last": last,
        "previous": previous, "following": following, "today": today,
        "weeks": [days[i : i + 7] for i in range(0, len(days), 7)],
        "weekdays": [days[i].day for i in range(7)], "overrides": overrides, "layers": layers,
        "can_keep": user_of(request).is_staff and services.can_keep(user_of(request), found.group),
        "can_subscribe": services.can_keep(user_of(request), found.group), **extra,
    }  # fmt: skip
    return page_or_fragment(request, "oncall/schedule.html", {}, context)


# ---- pages -------------------------------------------------------------------------------


def _pages_context(user: User) -> dict[str, Any]:
    open_pages = list(
        Page.objects.filter(state=PageState.PAGING)
        .select_related("incident", "group", "person")
        .order_by("ack_by", "id")[:MAX_OPEN]
    )
    mine = [p for p in open_pages if p.person_id == user.pk or user.pk in p.responders]
    others = [p for p in open_pages if p not in mine]
    recent = list(
        Page.objects.exclude(state=PageState.PAGING)
        .filter(created_at__gte=clock.now() - timedelta(days=RECENT_DAYS))
        .select_related("incident", "group", "person", "acknowledged_by")
        .order_by("-id")[:20]
    )
    return {
        "mine": mine,
        "sections": [
            (_("Paged to you"), mine, True, "mine"),
            (_("Other open pages"), others, False, "others"),
            (_("Ended in the last 7 days"), recent, False, "recent"),
        ],
    }


@staff_required
def pages(request: HttpRequest) -> HttpResponse:
    context = _pages_context(user_of(request))
    context["fragment"] = htmx_target(request) == "pages"
    return page_or_fragment(request, "oncall/pages.html", {"pages": "oncall/_pages.html"}, context)


def _refusal(exc: ServiceError) -> str:
    if isinstance(exc, PermissionDenied):
        return _("Only the group's responders may acknowledge this page.")
    if isinstance(exc, Conflict):
        return _("This page is no longer waiting for an acknowledgement.")
    return errors.message(exc)


@staff_required
@require_POST
def acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    """The responder has it: the page service stops further pages."""
    user = user_of(request)
    status = 200
    try:
        page = services.do_acknowledge(page=pk, actor=user)
    except NotFound:
        raise Http404(_("This page does not exist.")) from None
    except ServiceError as exc:
        messages.error(request, _refusal(exc))
        status = 422
    else:
        messages.success(
            request, _("Acknowledged %(incident)s.") % {"incident": page.incident.number}
        )
    if htmx_target(request) != "pages":
        return HttpResponseRedirect(reverse("oncall:pages"))
    context = {**_pages_context(user), "fragment": True}
    return page_or_fragment(
        request, "oncall/pages.html", {"pages": "oncall/_pages.html"}, context, status=status
    )
