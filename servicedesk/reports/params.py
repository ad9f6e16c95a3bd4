"""Report parameters: the period and filters every report takes, validated."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import Field, model_validator

from servicedesk.core import clock
from servicedesk.core.errors import FieldError
from servicedesk.core.schemas import StrictIn
from servicedesk.core.validation import Id

from . import registry
from .business_time import reporting_time_zone

Severity = Annotated[int, Field(ge=1, le=9)]
# Monthly figures list every month: a bound keeps a report a report.
MAX_PERIOD_DAYS = 20 * 366


class ReportQuery(StrictIn):
    date_from: date | None = Field(
        None, alias="from", description="First day (ISO date), in the reporting time zone."
    )
    to: date | None = Field(None, description="Last day (ISO date), included.")
    severity: list[Severity] | None = Field(None, description="Repeat for several severities.")
    service: Id | None = None
    technology: Id | None = None
    support_level: Annotated[int, Field(ge=1, le=3)] | None = None
    group: Id | None = Field(None, description="Support group id.")
    user_group: Id | None = None
    table: Annotated[str, Field(pattern=r"^[a-z_]{1,40}$")] | None = Field(
        None, description="CSV only: one table instead of every table as sections."
    )

    model_config = {**StrictIn.model_config, "populate_by_name": True}

    @model_validator(mode="after")
    def _sane_dates(self) -> ReportQuery:
        for value in (self.date_from, self.to):
            if value is not None and not 1900 <= value.year <= 9000:
                raise ValueError("dates must be between the years 1900 and 9000")
        return self


def build_params(
    query: ReportQuery | dict[str, Any], *, now: datetime | None = None
) -> registry.Params:
    """Validated parameters: the period defaults to the twelve months up to today."""
    if isinstance(query, dict):
        query = ReportQuery.model_validate(query)
    zone_name = reporting_time_zone()
    zone = ZoneInfo(zone_name)
    moment = now or clock.now()
    today = moment.astimezone(zone).date()
    date_to = query.to or today
    date_from = query.date_from or (date_to.replace(day=1) - timedelta(days=335)).replace(day=1)
    if date_from > date_to:
        raise FieldError(["query", "from"], "must not be after 'to'")
    if (date_to - date_from).days > MAX_PERIOD_DAYS:
        raise FieldError(["query", "from"], "the period may span at most 20 years")
    return registry.Params(
        date_from=date_from,
        date_to=date_to,
        start=datetime.combine(date_from, time.min, tzinfo=zone),
        end=datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=zone),
        time_zone=zone_name,
        now=moment,
        explicit_period=query.date_from is not None or query.to is not None,
        severity=tuple(sorted(set(query.severity or ()))),
        service=query.service,
        technology=query.technology,
        support_level=query.support_level,
        group=query.group,
        user_group=query.user_group,
    )
