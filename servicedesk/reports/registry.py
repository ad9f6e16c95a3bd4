"""The report registry: every report is a slug, a title and a compute function.

A report module declares its reports with :func:`report`; the API, the
exports (CSV, XLSX), the charts (SVG) and the scheduled e-mails serve every
registered slug alike. Problem and known-error reports plug in the same way:
a module with ``@report("problems-open", subject="problem", ...)``, either
listed in ``REPORT_MODULES`` or named ``reports.py`` in its own app (e.g.
``servicedesk/problems/reports.py``, found on first use); nothing else changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import wraps
from importlib import import_module
from typing import Any, Literal

ColumnKind = Literal["text", "ref", "int", "float", "hours", "percent", "bool", "datetime"]

# Modules that declare reports; imported on first use of the registry.
REPORT_MODULES = [
    "servicedesk.reports.incident_reports",
    "servicedesk.reports.problem_reports",
]


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: ColumnKind = "int"


@dataclass
class Table:
    key: str
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "columns": [{"key": c.key, "label": c.label, "kind": c.kind} for c in self.columns],
            "rows": self.rows,
        }


@dataclass(frozen=True)
class Chart:
    """How to draw the report: bars of ``values`` columns for each row of ``table``."""

    table: str
    label: str
    values: tuple[str, ...]
    title: str = ""


@dataclass
class Result:
    tables: list[Table]
    summary: dict[str, Any] = field(default_factory=dict)

    def table(self, key: str) -> Table:
        for table in self.tables:
            if table.key == key:
                return table
        raise KeyError(key)


@dataclass(frozen=True)
class Params:
    """A report's period and filters, validated (see ``api.ReportQuery``)."""

    date_from: date
    date_to: date
    start: datetime  # date_from 00:00 in the reporting time zone
    end: datetime  # the day after date_to, 00:00 (exclusive)
    time_zone: str
    now: datetime
    explicit_period: bool = False
    severity: tuple[int, ...] = ()
    service: int | None = None
    technology: int | None = None
    support_level: int | None = None
    group: int | None = None
    user_group: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.date_from.isoformat(),
            "to": self.date_to.isoformat(),
            "time_zone": self.time_zone,
            "severity": list(self.severity),
            "service": self.service,
            "technology": self.technology,
            "support_level": self.support_level,
            "group": self.group,
            "user_group": self.user_group,
        }


@dataclass(frozen=True)
class Report:
    slug: str
    title: str
    description: str
    compute: Callable[[Params], Result]
    subject: str = "incident"
    chart: Chart | None = None
    # Figures as of now (open now): a period only narrows them when given, and
    # scheduled e-mails send them without one.
    snapshot: bool = False


REPORTS: dict[str, Report] = {}


def _original(compute: Callable[[Params], Result]) -> Callable[[Params], Result]:
    found: Callable[[Params], Result] = getattr(compute, "__wrapped__", compute)
    return found


def _caught_up(fn: Callable[[Params], Result]) -> Callable[[Params], Result]:
    """``fn`` after the facts have caught up with every change made so far."""

    @wraps(fn)
    def compute(params: Params) -> Result:
        from .pending import catch_up

        catch_up()
        return fn(params)

    return compute


_loaded = False


def report(
    slug: str, *, title: str, description: str, subject: str = "incident",
    chart: Chart | None = None, snapshot: bool = False,
) -> Callable[[Callable[[Params], Result]], Callable[[Params], Result]]:  # fmt: skip
    """Register ``fn(params) -> Result`` as the report ``slug``."""

    def register(fn: Callable[[Params], Result]) -> Callable[[Params], Result]:
        existing = REPORTS.get(slug)
        if existing is not None and _original(existing.compute) is not fn:
            raise ValueError(f"report {slug!r} is already registered")
        # Incident reports read the facts: bring them up to every change first.
        compute = _caught_up(fn) if subject == "incident" else fn
        REPORTS[slug] = Report(slug, title, description, compute, subject, chart, snapshot)
        return fn

    return register


def all_reports() -> dict[str, Report]:
    global _loaded
    if not _loaded:
        from django.utils.module_loading import autodiscover_modules

        for module in REPORT_MODULES:
            import_module(module)
        autodiscover_modules("reports")
        _loaded = True
    return REPORTS


def get(slug: str) -> Report | None:
    return all_reports().get(slug)


def run(slug: str, params: Params) -> Result:
    found = get(slug)
    if found is None:
        raise KeyError(slug)
    return found.compute(params)
