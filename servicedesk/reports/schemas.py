"""API schemas of scheduled reports."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from ninja import Schema
from pydantic import AfterValidator, Field

from servicedesk.core.schemas import StrictIn
from servicedesk.core.validation import Name, ShortText

from .models import ScheduledReport


def _email(value: str) -> str:
    try:
        validate_email(value)
    except DjangoValidationError:
        raise ValueError("not a valid e-mail address") from None
    return value


Email = Annotated[ShortText, AfterValidator(_email)]
FilterValue = int | list[int]


class ScheduleIn(StrictIn):
    name: Name
    report: Annotated[str, Field(pattern=r"^[a-z0-9-]{1,60}$")]
    frequency: Literal["daily", "weekly", "monthly"] = "weekly"
    format: Literal["csv", "xlsx"] = "xlsx"
    recipients: Annotated[list[Email], Field(min_length=1, max_length=100)]
    filters: dict[
        Literal["severity", "service", "technology", "support_level", "group", "user_group"],
        Annotated[FilterValue, Field()],
    ] = Field(default_factory=dict)


class ReportInfoOut(Schema):
    slug: str
    title: str
    description: str
    subject: str
    formats: list[str]


class ColumnOut(Schema):
    key: str
    label: str
    kind: str = Field(description="text, ref, int, float, hours, percent, bool or datetime")


class TableOut(Schema):
    key: str
    title: str
    columns: list[ColumnOut]
    rows: list[dict[str, Any]]


class ReportOut(Schema):
    slug: str
    title: str
    description: str
    params: dict[str, Any] = Field(description="The period and filters applied, and the time zone.")
    generated_at: datetime
    summary: dict[str, Any]
    tables: list[TableOut]


class ScheduleOut(Schema):
    id: int
    name: str
    report: str
    frequency: str
    format: str
    recipients: list[str]
    filters: dict[str, Any]
    is_active: bool
    next_run_at: datetime
    last_sent_at: datetime | None


def schedule_out(schedule: ScheduledReport) -> dict[str, Any]:
    return {
        "id": schedule.pk,
        "name": schedule.name,
        "report": schedule.report,
        "frequency": schedule.frequency,
        "format": schedule.format,
        "recipients": schedule.recipient_list,
        "filters": schedule.filters,
        "is_active": schedule.is_active,
        "next_run_at": schedule.next_run_at,
        "last_sent_at": schedule.last_sent_at,
    }
