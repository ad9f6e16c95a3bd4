"""The verbs of reports: scheduled reports, and sending the ones that are due.

A scheduled report is sent as one outbox message per recipient on the
channel "email" (the communications app delivers it), written in the same
transaction that advances the schedule: a report is queued exactly once per
run, whatever the workers do. Payload (the e-mail channel's contract)::

    {"subject": str, "body": str,
     "attachments": [{"filename": str, "content_type": str, "content_base64": str}]}
"""

from __future__ import annotations

import base64
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from pydantic import ValidationError

from servicedesk.accounts import permissions
from servicedesk.accounts.models import User
from servicedesk.core import clock, outbox
from servicedesk.core.errors import FieldError, NotFound, PermissionDenied

from . import charts, exports, registry
from .business_time import reporting_time_zone
from .models import ScheduledReport
from .params import ReportQuery, build_params

EMAIL_CHANNEL = "email"
# Scheduled reports go out at this local hour of their day.
SEND_HOUR = 6


def _require_manager(actor: User | None) -> None:
    if actor is not None and not permissions.is_manager(actor):
        raise PermissionDenied("Only managers and administrators schedule reports.")


def _zone() -> ZoneInfo:
    return ZoneInfo(reporting_time_zone())


def next_run(frequency: str, after: datetime) -> datetime:
    """The first send moment strictly after ``after``: 06:00 local on the next day,
    the next Monday or the next 1st of a month."""
    zone = _zone()
    day = after.astimezone(zone).date()
    while True:
        day += timedelta(days=1)
        if frequency == ScheduledReport.Frequency.DAILY:
            break
        if frequency == ScheduledReport.Frequency.WEEKLY and day.weekday() == 0:
            break
        if frequency == ScheduledReport.Frequency.MONTHLY and day.day == 1:
            break
    return datetime.combine(day, time(SEND_HOUR), tzinfo=zone)


def period_for(frequency: str, run_at: datetime) -> tuple[date, date]:
    """The closed period a run reports on: yesterday, last week (Mon-Sun), last month."""
    today = run_at.astimezone(_zone()).date()
    if frequency == ScheduledReport.Frequency.DAILY:
        return today - timedelta(days=1), today - timedelta(days=1)
    if frequency == ScheduledReport.Frequency.WEEKLY:
        monday = today - timedelta(days=today.weekday())
        return monday - timedelta(days=7), monday - timedelta(days=1)
    last = today.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


def _query(
    filters: dict[str, Any], date_from: date | None = None, date_to: date | None = None
) -> dict[str, Any]:
    query = {k: ([v] if k == "severity" and isinstance(v, int) else v) for k, v in filters.items()}
    if date_from is not None:
        query["from"] = date_from
    if date_to is not None:
        query["to"] = date_to
    return query


def _check(report: str, filters: dict[str, Any]) -> None:
    if registry.get(report) is None:
        raise FieldError("report", f"there is no report {report!r}")
    try:
        ReportQuery.model_validate(_query(filters))
    except ValidationError as exc:
        raise FieldError("filters", "; ".join(e["msg"] for e in exc.errors())) from None


@transaction.atomic
def do_create_schedule(
    *, actor: User | None, name: str, report: str, recipients: list[str],
    frequency: str = "weekly", format: str = "xlsx", filters: dict[str, Any] | None = None,
) -> ScheduledReport:  # fmt: skip
    """Schedule ``report`` to be e-mailed to ``recipients``."""
    _require_manager(actor)
    filters = filters or {}
    _check(report, filters)
    if frequency not in ScheduledReport.Frequency.values:
        raise FieldError("frequency", f"must be one of {ScheduledReport.Frequency.values}")
    if format not in ScheduledReport.Format.values:
        raise FieldError("format", f"must be one of {ScheduledReport.Format.values}")
    if not recipients:
        raise FieldError("recipients", "name at least one address")
    now = clock.now()
    return ScheduledReport.objects.create(
        name=name.strip(), report=report, filters=filters, frequency=frequency, format=format,
        recipients="\n".join(r.strip() for r in recipients), next_run_at=next_run(frequency, now),
        created_by=actor, created_at=now,
    )  # fmt: skip


@transaction.atomic
def do_delete_schedule(*, actor: User | None, schedule_id: int) -> None:
    _require_manager(actor)
    deleted, _ = ScheduledReport.objects.filter(pk=schedule_id).delete()
    if not deleted:
        raise NotFound(f"Scheduled report {schedule_id} does not exist.")


def _message(schedule: ScheduledReport, run_at: datetime) -> dict[str, Any]:
    report = registry.get(schedule.report)
    if report is None:
        raise NotFound(f"There is no report {schedule.report!r}.")
    date_from, date_to = period_for(schedule.frequency, run_at)
    if report.snapshot:
        params = build_params(_query(schedule.filters), now=run_at)
    else:
        params = build_params(_query(schedule.filters, date_from, date_to), now=run_at)
    result = report.compute(params)
    attachments = []
    if schedule.format == ScheduledReport.Format.CSV:
        body: bytes = exports.as_csv(result).encode("utf-8")
        attachments.append((f"{report.slug}.csv", "text/csv", body))
    else:
        attachments.append((
            f"{report.slug}.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            exports.as_xlsx(report, params, result),
        ))  # fmt: skip
    if report.chart is not None:
        svg = charts.render_svg(report.title, report.chart, result).encode("utf-8")
        attachments.append((f"{report.slug}.svg", "image/svg+xml", svg))
    summary = "\n".join(f"  {key}: {value}" for key, value in result.summary.items())
    link = f"{settings.BASE_URL}/api/v1/reports/{report.slug}"
    period = (
        f"as of {run_at.astimezone(_zone()):%Y-%m-%d %H:%M}"
        if report.snapshot
        else f"{date_from.isoformat()} to {date_to.isoformat()}"
    )
    return {
        "subject": f"{report.title}: {period}",
        "body": (
            f"{schedule.name}\n\n{report.title}, {period} ({params.time_zone}).\n"
            f"{report.description}\n\n"
            f"{summary}\n\nThe full report is attached; online: {link}\n"
        ),
        "attachments": [
            {"filename": filename, "content_type": kind,
             "content_base64": base64.b64encode(content).decode("ascii")}
            for filename, kind, content in attachments
        ],
    }  # fmt: skip


@transaction.atomic
def do_send_schedule(*, schedule_id: int) -> int:
    """Queue the due run of a schedule (one message per recipient) and move it on.
    Locks the schedule row; returns the number of messages queued (0: not due)."""
    schedule = ScheduledReport.objects.select_for_update().filter(pk=schedule_id).first()
    now = clock.now()
    if schedule is None or not schedule.is_active or schedule.next_run_at > now:
        return 0
    run_at = schedule.next_run_at
    payload = _message(schedule, run_at)
    for address in schedule.recipient_list:
        outbox.enqueue(
            channel=EMAIL_CHANNEL, destination=address, payload=payload,
            event_type="report.scheduled", subject_type="scheduled_report",
            subject_id=schedule.pk, meta={"report": schedule.report, "run_at": run_at.isoformat()},
        )  # fmt: skip
    # A worker that was down for days sends one report, not one per missed run.
    schedule.next_run_at = next_run(schedule.frequency, max(run_at, now))
    schedule.last_sent_at = now
    schedule.save(update_fields=["next_run_at", "last_sent_at"])
    return len(schedule.recipient_list)


def send_due_schedules(limit: int = 100) -> int:
    """Queue every scheduled report that is due (the periodic job)."""
    ids = list(
        ScheduledReport.objects.filter(is_active=True, next_run_at__lte=clock.now())
        .order_by("next_run_at")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(do_send_schedule(schedule_id=pk) for pk in ids)
