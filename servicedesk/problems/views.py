"""Pages of problem control (docs/ui.md, "Problem portfolio"): the ranked board
and the problem page with its RCA artefacts, updated in place.

The pattern is the incident page's (``web/views/incident.py``): every action
is an ordinary form posting to ``/problems/<pk>/<action>/``; without HTMX it
redirects back (or re-renders the page with the errors, 422), with HTMX it
returns the ``#problem-main`` fragment. Versioned actions carry the version
the user saw; a stale one changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms as dj_forms
from django.contrib import messages
from django.db.models import Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from servicedesk.accounts.models import SupportGroup, User
from servicedesk.core import clock
from servicedesk.core.errors import NotFound, ServiceError
from servicedesk.incidents import selectors as incident_selectors
from servicedesk.web import selectors as web_selectors
from servicedesk.web.views.base import (
    after_action,
    htmx_target,
    page_or_fragment,
    perform_action,
    staff_required,
    user_of,
)

from . import errors, forms, permissions, rca, scoring, selectors, services, svg
from .models import (
    CAUSE_UNKNOWN_STATUSES,
    FollowUpAction,
    KepnerTregoeRow,
    Problem,
    ProblemEvent,
    ProblemIncident,
    ProblemReview,
    ProblemSpan,
    SelectionFactor,
    Status,
)
from .timeline import describe
from .transitions import allowed_next

BOARD_LIMIT = 100
LINKS_SHOWN = 200
PORTFOLIO_STATUSES = [str(s) for s in (*CAUSE_UNKNOWN_STATUSES, Status.ROOT_CAUSE_KNOWN)]
ORDER = ("-score", "priority", "opened_at", "id")  # selectors.portfolio's ranking


# ---- the board ------------------------------------------------------------------------------


def _int(query: QueryDict, name: str) -> int | None:
    raw = query.get(name, "").strip()
    return int(raw) if raw.isdigit() and int(raw) < 2**31 else None


def parse_board_filters(query: QueryDict) -> dict[str, Any]:
    statuses = [s for s in query.getlist("status") if s in Status.values]
    return {
        "status": statuses,
        "technology": _int(query, "technology"),
        "group": _int(query, "group"),
        "owner": _int(query, "owner"),
    }


def board_rows(user: User, filters: dict[str, Any]) -> list[tuple[int, Problem]]:
    """The portfolio's problems (ranked like ``GET /problems/portfolio``), narrowed by
    the filters; each with its rank in the whole portfolio of those statuses."""
    statuses = filters["status"] or PORTFOLIO_STATUSES
    ranked = (
        selectors.problems(user).prefetch_related(None).filter(status__in=statuses).order_by(*ORDER)
    )
    narrowed = selectors.ProblemFilter(technology=filters["technology"]).apply(ranked)
    if filters["group"] is not None:
        narrowed = narrowed.filter(
            Q(owner_group_id=filters["group"]) | Q(assigned_group_id=filters["group"])
        )
    if filters["owner"] is not None:
        narrowed = narrowed.filter(Q(owner_id=filters["owner"]) | Q(assignee_id=filters["owner"]))
    rows = list(narrowed[:BOARD_LIMIT])
    if all(filters[k] is None for k in ("technology", "group", "owner")):
        return list(enumerate(rows, start=1))
    # Narrowed: the rank stays the problem's place in the whole portfolio.
    wanted = {p.pk for p in rows}
    ids = Problem.objects.filter(status__in=statuses).order_by(*ORDER).values_list("id", flat=True)
    rank = {pk: n for n, pk in enumerate(ids, start=1) if pk in wanted}
    return [(rank[p.pk], p) for p in rows]


@staff_required
def board(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    filters = parse_board_filters(request.GET)
    now = clock.now()
    rows = []
    for rank, problem in board_rows(user, filters):
        hours = services.investigation_hours(problem, now)
        rows.append({
            "rank": rank, "problem": problem, "hours": hours,
            "progress": svg.progress(hours, problem.cause_estimate_hours),
            "percent": round(100 * hours / max(1, problem.cause_estimate_hours)),
            "overrun": hours > problem.cause_estimate_hours,
        })  # fmt: skip
    factor_names = dict(SelectionFactor.Key.choices)
    context = {
        "rows": rows,
        "filters": filters,
        "statuses": Status.choices,
        "technologies": web_selectors.technologies(),
        "groups": list(SupportGroup.objects.filter(is_active=True, level__gte=2).order_by("name")),
        "owners": list(
            User.objects.filter(
                Q(owned_problems__status__in=PORTFOLIO_STATUSES)
                | Q(assigned_problems__status__in=PORTFOLIO_STATUSES)
            ).distinct().order_by("first_name", "last_name", "username")
        ),
        "factors": [(factor_names[k], w, cap) for k, (w, cap) in scoring.factors().items()],
        "limit": BOARD_LIMIT,
        "now_utc": now,
    }  # fmt: skip
    return page_or_fragment(
        request, "problems/board.html", {"board": "problems/_board.html"}, context
    )


# ---- the problem page: actions ------------------------------------------------------------------

Handler = Callable[[User, Problem, dict[str, Any]], object]


def _v(d: dict[str, Any]) -> int | None:
    return d.get("version")


def _investigate(user: User, p: Problem, d: dict[str, Any]) -> object:
    return services.do_start_investigation(problem=p.pk, actor=user, comment=d["comment"],
                                           expected_version=_v(d))  # fmt: skip


def _defer(user: User, p: Problem, d: dict[str, Any]) -> object:
    return services.do_defer(problem=p.pk, actor=user, reason=d["reason"], expected_version=_v(d))


def _root_cause(user: User, p: Problem, d: dict[str, Any]) -> object:
    return services.do_record_root_cause(
        problem=p.pk, actor=user, root_cause=d["root_cause"], symptoms=d["symptoms"],
        create_known_error=d["create_known_error"], expected_version=_v(d),
    )  # fmt: skip


def _workaround(user: User, p: Problem, d: dict[str, Any]) -> object:
    return services.do_publish_workaround(problem=p.pk, actor=user, workaround=d["workaround"],
                                          audience=d["audience"], expected_version=_v(d))  # fmt: skip


def _resolve(user: User, p: Problem, d: dict[str, Any]) -> object:
    return services.do_resolve(problem=p.pk, actor=user, resolution=d["resolution"],
                               expected_version=_v(d))  # fmt: skip


def _close(user: User, p: Problem, d: dict[str, Any]) -> object:
    return services.do_close(problem=p.pk, actor=user, reason=d["reason"], expected_version=_v(d))


def _assign(user: User, p: Problem, d: dict[str, Any]) -> object:
    return services.do_assign(problem=p.pk, actor=user, group=d["group"], assignee=d["assignee"],
                              expected_version=_v(d))  # fmt: skip


def _escalate(user: User, p: Problem, d: dict[str, Any]) -> object:
    return services.do_escalate(problem=p.pk, actor=user, reason=d["reason"],
                                expected_version=_v(d))  # fmt: skip


def _de_escalate(user: User, p: Problem, d: dict[str, Any]) -> object:
    return services.do_de_escalate(problem=p.pk, actor=user, reason=d["reason"],
                                   expected_version=_v(d))  # fmt: skip


def _edit(user: User, p: Problem, d: dict[str, Any]) -> object:
    changes = {k: v for k, v in d.items() if k != "version"}
    return services.do_update_problem(problem=p.pk, actor=user, changes=changes,
                                      expected_version=_v(d))  # fmt: skip


def _link(user: User, p: Problem, d: dict[str, Any]) -> object:
    return services.do_link_incident(problem=p.pk, incident=d["incident"], actor=user,
                                     set_pending=d["set_pending"], comment=d["comment"])  # fmt: skip


def _ishikawa(user: User, p: Problem, d: dict[str, Any]) -> object:
    return rca.do_set_ishikawa(problem=p.pk, actor=user, categories=d["text"])


def _five_whys(user: User, p: Problem, d: dict[str, Any]) -> object:
    return rca.do_set_five_whys(problem=p.pk, actor=user, steps=d["text"])


def _kepner_tregoe(user: User, p: Problem, d: dict[str, Any]) -> object:
    return rca.do_set_kepner_tregoe(problem=p.pk, actor=user, rows=d["text"])


def _review(user: User, p: Problem, d: dict[str, Any]) -> object:
    actions = []
    if d["action_title"]:
        actions.append({"title": d["action_title"], "owner": d["action_owner"],
                        "due_at": d["action_due"]})  # fmt: skip
    return rca.do_record_review(problem=p.pk, actor=user, went_well=d["went_well"],
                                went_wrong=d["went_wrong"], lessons=d["lessons"], actions=actions)  # fmt: skip


# action -> (form class, handler, message on success)
ACTIONS: dict[str, tuple[type[dj_forms.Form], Handler, Any]] = {
    "investigate": (forms.InvestigateForm, _investigate, gettext_lazy("Investigation started.")),
    "defer": (forms.DeferForm, _defer, gettext_lazy("Deferred.")),
    "root-cause": (forms.RootCauseForm, _root_cause, gettext_lazy("Root cause recorded.")),
    "workaround": (forms.WorkaroundForm, _workaround, gettext_lazy("Workaround published.")),
    "resolve": (forms.ResolveForm, _resolve, gettext_lazy("Resolved.")),
    "close": (forms.CloseForm, _close, gettext_lazy("Closed.")),
    "assign": (forms.AssignForm, _assign, gettext_lazy("Assigned.")),
    "escalate": (forms.ReasonForm, _escalate, gettext_lazy("Escalated.")),
    "de-escalate": (forms.ReasonForm, _de_escalate, gettext_lazy("Handed back.")),
    "edit": (forms.EditForm, _edit, gettext_lazy("Saved.")),
    "link": (forms.LinkForm, _link, gettext_lazy("Incident linked.")),
    "ishikawa": (forms.IshikawaForm, _ishikawa, gettext_lazy("Ishikawa diagram saved.")),
    "five-whys": (forms.FiveWhysForm, _five_whys, gettext_lazy("5 whys saved.")),
    "kepner-tregoe": (
        forms.KepnerTregoeForm,
        _kepner_tregoe,
        gettext_lazy("Kepner-Tregoe specification saved."),
    ),
    "review": (forms.ReviewForm, _review, gettext_lazy("Review recorded.")),
}
RCA_ACTIONS = {"ishikawa", "five-whys", "kepner-tregoe", "review"}


def available(user: User, problem: Problem, can_work: bool | None = None) -> set[str]:
    """The actions to offer; the services still decide (a refused one shows why)."""
    if can_work is None:
        can_work = permissions.can_work_problem(user, problem)
    status = problem.status
    out: set[str] = set()
    if status == Status.CLOSED:
        return out
    out.add("link")
    following = allowed_next(status)
    if can_work:
        out |= RCA_ACTIONS
        if Status.UNDER_INVESTIGATION in following:
            out.add("investigate")
        if Status.ROOT_CAUSE_KNOWN in following:
            out.add("root-cause")
        if Status.RESOLVED in following:
            out.add("resolve")
        if status == Status.RESOLVED:
            out.add("close")
        if problem.is_open:
            out |= {"workaround", "assign", "edit"}
            if problem.support_level < 3:
                out.add("escalate")
            if problem.support_level > 2:
                out.add("de-escalate")
    if permissions.is_problem_manager(user):
        if Status.DEFERRED in following:
            out.add("defer")
        if Status.CLOSED in following:
            out.add("close")
    return out


def _initial(action: str, problem: Problem, rca_data: dict[str, Any]) -> dict[str, Any]:
    initial: dict[str, Any] = {"version": problem.version}
    if action == "assign":
        initial["group"] = problem.assigned_group_id
    elif action == "edit":
        for name in forms.EditForm.base_fields:
            if name != "version":
                initial[name] = getattr(problem, name)
    elif action == "ishikawa":
        initial["text"] = forms.ishikawa_text(rca_data["ishikawa"])
    elif action == "five-whys":
        initial["text"] = forms.five_whys_text(rca_data["five_whys"])
    elif action == "kepner-tregoe":
        initial["text"] = forms.kepner_tregoe_text(rca_data["kepner_tregoe"])
    elif action == "workaround":
        initial["workaround"] = problem.workaround
    return initial


def _build_forms(problem: Problem, actions: set[str], bound: tuple[str, dj_forms.Form] | None,
                 rca_data: dict[str, Any]) -> dict[str, dj_forms.Form]:  # fmt: skip
    built: dict[str, dj_forms.Form] = {}
    for action in sorted(actions | ({bound[0]} if bound else set())):
        if bound is not None and bound[0] == action:
            form = bound[1]
        else:
            form = ACTIONS[action][0](initial=_initial(action, problem, rca_data), prefix=action)
        if action == "assign":
            form.fields["group"].widget.attrs.update({
                "hx-get": reverse("problems:members", args=[problem.pk]),
                "hx-target": "#id_assign-assignee", "hx-trigger": "change",
            })  # fmt: skip
            members = web_selectors.group_members(problem.assigned_group_id)
            form.fields["assignee"].choices = [("", "—")] + [(m.pk, str(m)) for m in members]  # type: ignore[attr-defined]
        built[action.replace("-", "_")] = form
    return built


def known_error_url(pk: int) -> str:
    """The known error's page, when error control's pages are installed."""
    try:
        return reverse("knownerrors:detail", args=[pk])
    except NoReverseMatch:
        return ""


def pareto_context(problem: Problem, by: str) -> dict[str, Any]:
    by = by if by in rca.PARETO_DIMENSIONS else "category"
    labels = {
        "category": _("category"), "configuration_item": _("configuration item"),
        "service": _("service"), "symptom": _("symptom (words of the titles)"),
    }  # fmt: skip
    rows = rca.pareto(problem, by)
    title = _("Pareto analysis of the linked incidents by %(dimension)s") % {
        "dimension": labels[by]
    }
    return {
        "problem": problem,
        "pareto_by": by,
        "pareto_by_label": labels[by],
        "pareto_dimensions": [(d, labels[d]) for d in rca.PARETO_DIMENSIONS],
        "pareto_rows": rows,
        "pareto_svg": svg.pareto(rows, title=title) if rows else "",
        "pareto_title": title,
    }


def context_for(request: HttpRequest, problem: Problem,
                bound: tuple[str, dj_forms.Form] | None = None) -> dict[str, Any]:  # fmt: skip
    user = user_of(request)
    now = clock.now()
    can_work = permissions.can_work_problem(user, problem)
    actions = available(user, problem, can_work)
    rca_data = {
        "ishikawa": rca.ishikawa(problem),
        "five_whys": rca.five_whys(problem),
        "kepner_tregoe": rca.kepner_tregoe(problem),
    }
    hours = services.investigation_hours(problem, now)
    links = list(
        ProblemIncident.objects.filter(problem=problem)
        .select_related("incident__assigned_group", "incident__assignee")
        .order_by("-incident__opened_at", "-id")[:LINKS_SHOWN]
    )
    reviews = list(
        ProblemReview.objects.filter(problem=problem)
        .prefetch_related(
            Prefetch("actions", FollowUpAction.objects.select_related("owner").order_by("id"))
        )
        .order_by("-held_at", "-id")
    )
    score, parts = scoring.breakdown(problem)
    factor_names = dict(SelectionFactor.Key.choices)
    events = list(
        ProblemEvent.objects.filter(problem=problem).select_related("actor").order_by("id")
    )
    by = request.GET.get("by", "category") if request.method == "GET" else "category"
    context = {
        "problem": problem,
        "events": [(e, describe(e)) for e in events],
        "incident_links": links,
        "more_links": max(0, (getattr(problem, "links", 0) or 0) - len(links)),
        "known_errors": [(ke, known_error_url(ke.pk)) for ke in problem.known_errors.all()],
        "spans": list(
            ProblemSpan.objects.filter(problem=problem).select_related("group").order_by("id")
        ),
        "reviews": reviews,
        "ishikawa": rca_data["ishikawa"],
        "ishikawa_svg": svg.ishikawa(rca_data["ishikawa"], problem.title)
        if rca_data["ishikawa"] else "",
        "five_whys": rca_data["five_whys"],
        "kepner_tregoe": [
            {**row, "dimension_label": KepnerTregoeRow.Dimension(row["dimension"]).label}
            for row in rca_data["kepner_tregoe"]
        ],
        "hours": hours,
        "percent": round(100 * hours / max(1, problem.cause_estimate_hours)),
        "overrun": hours > problem.cause_estimate_hours,
        "progress": svg.progress(hours, problem.cause_estimate_hours, width=260),
        "score": score,
        "score_parts": [(factor_names.get(p.key, p.key), p) for p in parts],
        "actions": actions,
        "forms": _build_forms(problem, actions, bound, rca_data),
        "open_action": bound[0] if bound else None,
        "can_complete": can_work,
        "now_utc": now,
        **pareto_context(problem, by),
    }  # fmt: skip
    return context


def _problem(request: HttpRequest, pk: int) -> Problem:
    try:
        return selectors.get_problem(user_of(request), pk)
    except NotFound:
        raise Http404(_("This problem does not exist.")) from None


@staff_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    problem = _problem(request, pk)
    if htmx_target(request) == "pareto":
        return page_or_fragment(request, "problems/page.html", {"pareto": "problems/_pareto.html"},
                                pareto_context(problem, request.GET.get("by", "")))  # fmt: skip
    return render(request, "problems/page.html", context_for(request, problem))


def _respond(request: HttpRequest, problem: Problem,
             bound: tuple[str, dj_forms.Form] | None = None) -> HttpResponse:  # fmt: skip
    return after_action(
        request, context_for(request, problem, bound), main="problems/_main.html",
        page="problems/page.html", redirect_to=reverse("problems:detail", args=[problem.pk]),
        refused=bound is not None,
    )  # fmt: skip


@staff_required
@require_POST
def action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    refused = perform_action(request, _problem(request, pk), ACTIONS, action, _attach_rca)
    return _respond(request, _problem(request, pk), refused)


def _attach_rca(form: Any, exc: ServiceError) -> None:
    # The RCA artefacts' forms hold each artefact as one text field.
    errors.attach(form, exc, {"categories": "text", "steps": "text", "rows": "text"})


@staff_required
@require_POST
def unlink(request: HttpRequest, pk: int, incident_id: int) -> HttpResponse:
    problem = _problem(request, pk)
    try:
        services.do_unlink_incident(
            problem=problem.pk, incident=incident_id, actor=user_of(request)
        )
    except ServiceError as exc:
        messages.error(request, errors.message(exc))
    else:
        messages.success(request, _("Incident unlinked."))
    return _respond(request, _problem(request, pk))


@staff_required
@require_POST
def follow_up_done(request: HttpRequest, pk: int, action_id: int) -> HttpResponse:
    problem = _problem(request, pk)
    follow_up = FollowUpAction.objects.filter(pk=action_id, review__problem=problem).first()
    if follow_up is None:
        raise Http404
    try:
        rca.do_complete_follow_up(action=follow_up, actor=user_of(request))
    except ServiceError as exc:
        messages.error(request, errors.message(exc))
    else:
        messages.success(request, _("Follow-up action done."))
    return _respond(request, _problem(request, pk))


@staff_required
def members(request: HttpRequest, pk: int) -> HttpResponse:
    """The <option>s of a group's people, for the assign form's person picker."""
    _problem(request, pk)
    raw = request.GET.get("assign-group", "")
    group_id = int(raw) if raw.isdigit() and int(raw) < 2**31 else None
    return render(
        request, "web/components/_person_options.html",
        {"people": web_selectors.group_members(group_id)},
    )  # fmt: skip


@staff_required
def incident_panel(request: HttpRequest, pk: int) -> HttpResponse:
    """The incident page's panel: the problem the incident is linked to (or nothing)."""
    try:
        incident_selectors.get_incident(user_of(request), pk)
    except NotFound:
        raise Http404 from None
    link = (
        ProblemIncident.objects.select_related("problem__assigned_group")
        .filter(incident_id=pk)
        .first()
    )
    return render(
        request, "problems/_incident_problem.html", {"linked": link.problem if link else None}
    )
