"""Report endpoints: ``/api/v1/reports/{slug}`` as JSON, ``.csv``, ``.xlsx`` and ``.svg``."""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from ninja import Path, Query, Router, Status

from servicedesk.accounts.models import User
from servicedesk.core.errors import FieldError, NotFound, PermissionDenied
from servicedesk.core.schemas import ERRORS, WRITE_ERRORS, PageOut

from . import charts, exports, registry, services
from .models import ScheduledReport
from .params import ReportQuery, build_params
from .schemas import ReportInfoOut, ReportOut, ScheduleIn, ScheduleOut, schedule_out

router = Router(tags=["reports"])

Slug = Annotated[str, Path(pattern=r"^[a-z0-9-]{1,60}$")]


def _user(request: HttpRequest) -> User:
    user: User = request.auth  # type: ignore[attr-defined]
    if not (user.is_support_staff or user.is_superuser):
        raise PermissionDenied("Reports are for support staff and managers.")
    return user


def _run(
    request: HttpRequest, slug: str, query: ReportQuery
) -> tuple[registry.Report, registry.Params, registry.Result]:
    _user(request)
    report = registry.get(slug)
    if report is None:
        raise NotFound(f"There is no report {slug!r}.")
    params = build_params(query)
    return report, params, report.compute(params)


def _download(body: str | bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@router.get("/reports", response={200: PageOut[ReportInfoOut], **ERRORS})
def list_reports(request: HttpRequest) -> dict[str, Any]:
    """Every report: slug, title, what it counts, and its formats."""
    _user(request)
    return {
        "items": [
            {"slug": r.slug, "title": r.title, "description": r.description,
             "subject": r.subject, "formats": ["json", "csv", "xlsx", "svg"]}
            for r in registry.all_reports().values()
        ],
        "next": None,
    }  # fmt: skip


# Schedules before the catch-all report paths, so "/reports/..." never swallows them.
@router.get("/report-schedules", response={200: PageOut[ScheduleOut], **ERRORS})
def list_schedules(request: HttpRequest) -> dict[str, Any]:
    """Scheduled reports e-mailed to a list."""
    _user(request)
    return {"items": [schedule_out(s) for s in ScheduledReport.objects.all()], "next": None}


@router.post("/report-schedules", response={201: ScheduleOut, **WRITE_ERRORS})
def create_schedule(request: HttpRequest, body: ScheduleIn) -> Status:
    """Schedule a report to be e-mailed to a list (managers)."""
    schedule = services.do_create_schedule(actor=_user(request), **body.model_dump())
    return Status(201, schedule_out(schedule))


@router.delete("/report-schedules/{schedule_id}", response={204: None, **WRITE_ERRORS})
def delete_schedule(
    request: HttpRequest, schedule_id: Annotated[int, Path(ge=1, le=2_147_483_647)]
) -> Status:
    services.do_delete_schedule(actor=_user(request), schedule_id=schedule_id)
    return Status(204, None)


@router.get("/reports/{slug}.csv", response={200: None, **ERRORS})
def report_csv(request: HttpRequest, slug: Slug, query: Query[ReportQuery]) -> HttpResponse:
    """The report as CSV: every table as a titled section, or one with ``table``."""
    report, _, result = _run(request, slug, query)
    if query.table is not None and query.table not in {t.key for t in result.tables}:
        raise FieldError(["query", "table"], f"no table {query.table!r} in this report")
    body = exports.as_csv(result, query.table)
    return _download(body, "text/csv; charset=utf-8", f"{report.slug}.csv")


@router.get("/reports/{slug}.xlsx", response={200: None, **ERRORS})
def report_xlsx(request: HttpRequest, slug: Slug, query: Query[ReportQuery]) -> HttpResponse:
    """The report as an Excel workbook: one sheet per table."""
    report, params, result = _run(request, slug, query)
    return _download(
        exports.as_xlsx(report, params, result),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        f"{report.slug}.xlsx",
    )


@router.get("/reports/{slug}.svg", response={200: None, **ERRORS})
def report_svg(request: HttpRequest, slug: Slug, query: Query[ReportQuery]) -> HttpResponse:
    """The report's chart as SVG (for e-mail and documents)."""
    report, _, result = _run(request, slug, query)
    if report.chart is None:
        raise NotFound(f"The report {slug!r} has no chart.")
    svg = charts.render_svg(report.title, report.chart, result)
    return HttpResponse(svg, content_type="image/svg+xml; charset=utf-8")


@router.get("/reports/{slug}", response={200: ReportOut, **ERRORS})
def report_json(request: HttpRequest, slug: Slug, query: Query[ReportQuery]) -> dict[str, Any]:
    """The report as JSON: parameters, summary and tables (columns and rows)."""
    report, params, result = _run(request, slug, query)
    return exports.as_json(report, params, result)
