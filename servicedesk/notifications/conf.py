"""This app's settings: Django settings when set, else the environment, else defaults.

| setting | default | meaning |
|---|---|---|
| ``SERVICEDESK_QUIET_HOURS`` | on | hold non-urgent e-mail to people outside their working hours |
| ``SERVICEDESK_WORK_DAYS`` | ``0,1,2,3,4`` | default working days (Monday = 0) |
| ``SERVICEDESK_WORK_HOURS`` | ``08:00-18:00`` | default working hours, in each person's time zone |
| ``SERVICEDESK_URGENT_SEVERITY`` | ``1`` | incidents at this severity or higher never wait |
| ``SERVICEDESK_STATUS_UPDATE_MAX_SEVERITY`` | ``2`` | manual status updates are for severities 1..N |
| ``SERVICEDESK_ACTION_DUE_MINUTES`` | ``30`` | due time of an action request whose rule sets none |
| ``SERVICEDESK_ACTION_REMINDER_MINUTES`` | ``60`` | interval between reminders of an overdue request |
| ``SERVICEDESK_ACTION_MAX_REMINDERS`` | ``3`` | reminders sent per overdue request |
"""

from __future__ import annotations

import os
from datetime import time
from typing import Any

from django.conf import settings


def _raw(name: str, default: str) -> Any:
    if hasattr(settings, name):
        return getattr(settings, name)
    return os.environ.get(name, default)


def _bool(name: str, default: bool) -> bool:
    value = _raw(name, "")
    if isinstance(value, bool):
        return value
    if value in (None, ""):
        return default
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = _raw(name, str(default))
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def quiet_hours_enabled() -> bool:
    return _bool("SERVICEDESK_QUIET_HOURS", True)


def work_days() -> list[int]:
    value = _raw("SERVICEDESK_WORK_DAYS", "0,1,2,3,4")
    if isinstance(value, list | tuple):
        return [int(v) for v in value]
    return [int(v) for v in str(value).split(",") if v.strip().isdigit() and int(v) < 7]


def work_hours() -> tuple[time, time]:
    value = str(_raw("SERVICEDESK_WORK_HOURS", "08:00-18:00"))
    try:
        start, end = (time.fromisoformat(part.strip()) for part in value.split("-", 1))
    except ValueError:
        return time(8, 0), time(18, 0)
    return start, end


def urgent_severity() -> int:
    return _int("SERVICEDESK_URGENT_SEVERITY", 1)


def status_update_max_severity() -> int:
    return _int("SERVICEDESK_STATUS_UPDATE_MAX_SEVERITY", 2)


def action_due_minutes() -> int:
    return _int("SERVICEDESK_ACTION_DUE_MINUTES", 30)


def action_reminder_minutes() -> int:
    return max(1, _int("SERVICEDESK_ACTION_REMINDER_MINUTES", 60))


def action_max_reminders() -> int:
    return _int("SERVICEDESK_ACTION_MAX_REMINDERS", 3)
