"""The reports dashboard: every report as a chart and tables, with the API's filters.

The filter form's fields are the API's query parameters (``params.ReportQuery``),
so ``/reports/?severity=1&technology=3`` and ``/api/v1/reports/mttr?severity=1&technology=3``
select the same; the export links carry the same query string. The dashboard
page renders the form and one placeholder per report; each report's card (its
chart, headline figures and tables) is a fragment the page loads with htmx, so
a slow report never holds up the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from pydantic import ValidationError

from servicedesk.accounts.models import SupportGroup
from servicedesk.catalog.models import Service, Technology, UserGroup
from servicedesk.core.errors import ServiceError
from servicedesk.web.views.base import staff_required

from . import charts, registry
from .params import ReportQuery, build_params
from .registry import Column, Params, Report, Result, Table

# Sections of the dashboard, by the reports' subject.
SECTIONS = (
    ("incident", "Incidents"),
    ("problem", "Problems"),
    ("known_error", "Known errors and fix projects"),
)
SUBJECT_SECTION = {"fix_project": "known_error"}
FILTERS = ("from", "to", "severity", "service", "technology", "support_level", "group",
           "user_group")  # fmt: skip


def parse_query(query: QueryDict) -> tuple[dict[str, Any], list[str]]:
    """The API's parameter schema applied to the page's query string: the valid
    values, and the names of those that were invalid (ignored, so a bad link
    narrows nothing instead of failing)."""
    data: dict[str, Any] = {}
    for name in FILTERS:
        values = [v for v in query.getlist(name) if v.strip() != ""]
        if values:
            data[name] = values if name == "severity" else values[0]
    invalid: list[str] = []
    while True:
        try:
            build_params(ReportQuery.model_validate(data))
            return data, invalid
        except ValidationError as exc:
            bad = {str(err["loc"][0]) for err in exc.errors() if err["loc"]} & set(data)
            if not bad:
                bad = {"from", "to"} & set(data)
                if not bad:
                    raise
        except ServiceError:  # "from" after "to", a period too long
            bad = {"from", "to"} & set(data)
        invalid.extend(sorted(bad))
        for name in bad:
            data.pop(name)


def params_of(data: dict[str, Any]) -> Params:
    return build_params(ReportQuery.model_validate(data))


def _number(value: Any, decimals: int | None = None) -> str:
    return str(formats.number_format(value, decimals, force_grouping=True))


def cell(value: Any, kind: str) -> str:
    """A value as the reader's locale writes it."""
    if value is None or value == "":
        return "—"
    if kind == "ref":
        return str(value.get("name", "")) if isinstance(value, dict) else str(value)
    if kind == "bool":
        return _("yes") if value else _("no")
    if kind == "percent":
        return f"{_number(round(float(value) * 100, 1), 1)} %"
    if kind in ("hours", "float"):
        return _number(round(float(value), 2), 2)
    if kind == "int" and isinstance(value, int | float):
        return _number(value)
    if kind == "datetime":
        moment = parse_datetime(str(value))
        if moment is not None:
            return str(formats.date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT"))
    return str(value)


def _summary_kind(key: str, value: Any, labels: dict[str, Column]) -> str:
    if key in labels:
        return labels[key].kind
    if key.endswith("_hours"):
        return "hours"
    if "share" in key:
        return "percent"
    return "float" if isinstance(value, float) else "int"


def translated(result: Result) -> Result:
    """The result with its titles and labels in the reader's language (the API
    keeps them in English; ``ui_strings`` marks them for translation)."""
    return Result(
        [
            Table(t.key, _(t.title), [Column(c.key, _(c.label), c.kind) for c in t.columns], t.rows)
            for t in result.tables
        ],
        result.summary,
    )


@dataclass
class Card:
    report: Report
    title: str
    description: str
    query: str
    summary: list[tuple[str, str]] = field(default_factory=list)
    tables: list[dict[str, Any]] = field(default_factory=list)
    svg: SafeString | None = None

    @property
    def exports(self) -> list[tuple[str, str]]:
        suffix = f"?{self.query}" if self.query else ""
        found = [
            ("CSV", reverse("api:report_csv", kwargs={"slug": self.report.slug}) + suffix),
            ("XLSX", reverse("api:report_xlsx", kwargs={"slug": self.report.slug}) + suffix),
        ]
        if self.report.chart is not None:
            found.append(
                ("SVG", reverse("api:report_svg", kwargs={"slug": self.report.slug}) + suffix)
            )
        return found


def build_card(report: Report, params: Params, query: str) -> Card:
    result = translated(report.compute(params))
    title = _(report.title)
    columns = {c.key: c for t in result.tables for c in t.columns}
    card = Card(report, title, _(report.description), query)
    for key, value in result.summary.items():
        label = columns[key].label if key in columns else _(key.replace("_", " ").capitalize())
        card.summary.append((label, cell(value, _summary_kind(key, value, columns))))
    for table in result.tables:
        card.tables.append({
            "key": table.key, "title": table.title,
            "columns": [(c.label, c.kind) for c in table.columns],
            "rows": [[(cell(row.get(c.key), c.kind), c.kind) for c in table.columns]
                     for row in table.rows],
        })  # fmt: skip
    if report.chart is not None:
        svg = charts.render_svg(title, report.chart, result, no_data=_("No data for this period"))
        card.svg = mark_safe(svg)  # noqa: S308 (our own drawing; every text in it is escaped)
    return card


def _form_context(data: dict[str, Any], invalid: list[str], params: Params) -> dict[str, Any]:
    return {
        "filters": data,
        "invalid": invalid,
        "params": params,
        "severities": [(s, str(s) in data.get("severity", [])) for s in (1, 2, 3, 4)],
        "levels": (1, 2, 3),
        "groups": SupportGroup.objects.order_by("level", "name").only("pk", "name", "level"),
        "technologies": Technology.objects.order_by("name").only("pk", "name"),
        "services": Service.objects.order_by("name").only("pk", "name"),
        "user_groups": UserGroup.objects.order_by("name").only("pk", "name"),
    }


def _selected(data: dict[str, Any], name: str) -> str:
    return str(data.get(name, ""))


@staff_required
def dashboard(request: HttpRequest) -> HttpResponse:
    data, invalid = parse_query(request.GET)
    params = params_of(data)
    query = urlencode(data, doseq=True)
    reports = list(registry.all_reports().values())
    sections = []
    for subject, label in SECTIONS:
        members = [r for r in reports if SUBJECT_SECTION.get(r.subject, r.subject) == subject]
        if members:
            sections.append({
                "key": subject, "title": _(label),
                "reports": [{"report": r, "title": _(r.title), "description": _(r.description)}
                            for r in members],
            })  # fmt: skip
    context = {
        **_form_context(data, invalid, params),
        "sections": sections,
        "query": query,
        "selected": {name: _selected(data, name) for name in FILTERS},
    }
    return render(request, "reports/dashboard.html", context)


def _report(slug: str) -> Report:
    found = registry.get(slug)
    if found is None:
        raise Http404(slug)
    return found


@staff_required
def card(request: HttpRequest, slug: str) -> HttpResponse:
    """One report's card (chart, headline figures, tables): the dashboard's fragment."""
    report = _report(slug)
    data, _ignored = parse_query(request.GET)
    built = build_card(report, params_of(data), urlencode(data, doseq=True))
    return render(request, "reports/_card.html", {"card": built, "compact": True})


@staff_required
def detail(request: HttpRequest, slug: str) -> HttpResponse:
    """One report on its own page: chart, figures and every table, with the filters."""
    report = _report(slug)
    data, invalid = parse_query(request.GET)
    params = params_of(data)
    query = urlencode(data, doseq=True)
    context = {
        **_form_context(data, invalid, params),
        "card": build_card(report, params, query),
        "compact": False,
        "query": query,
        "selected": {name: _selected(data, name) for name in FILTERS},
        "generated_at": datetime.now(tz=timezone.get_current_timezone()),
    }
    return render(request, "reports/report.html", context)
