"""The generic incident event-log CSV (docs/reports.md, "Importing event logs").

UTF-8, comma-separated, a header row; one row per change of an incident, in
any order (rows are sorted by time per incident). Columns:

    incident        the incident's reference in the source system (required)
    at              ISO 8601 time of the change; without an offset it is read
                    in the reporting time zone (required)
    status          new, assigned, in_progress, pending, resolved, closed,
                    cancelled; empty: the row changes the group only
    group           the support group holding the incident after the change
    level           1, 2 or 3: the group's support level (for groups not yet known)
    pending_reason  awaiting_user, awaiting_vendor or awaiting_problem
    title, severity, service, technology, user_group
                    the incident's card (the first non-empty value counts)
    satisfaction    1-5, on the row that closes the incident
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from ..business_time import reporting_time_zone
from .replay import STATUSES, Case, Change

REQUIRED = ("incident", "at")
REASONS = ("", "awaiting_user", "awaiting_vendor", "awaiting_problem")


class LogError(ValueError):
    """A row the importer cannot read; names the line."""


def _moment(text: str, zone: ZoneInfo, line: int) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise LogError(f"line {line}: 'at' is not an ISO 8601 time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def _int(text: str, field: str, line: int, low: int, high: int) -> int | None:
    if not text.strip():
        return None
    try:
        value = int(text)
    except ValueError:
        raise LogError(f"line {line}: {field} must be a number") from None
    if not low <= value <= high:
        raise LogError(f"line {line}: {field} must be between {low} and {high}")
    return value


def read(path: Path, *, ref_prefix: str = "") -> Iterator[Case]:
    zone = ZoneInfo(reporting_time_zone())
    cards: dict[str, dict[str, str]] = defaultdict(dict)
    changes: dict[str, list[Change]] = defaultdict(list)
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise LogError(f"missing column(s): {', '.join(missing)}")
        for line, row in enumerate(reader, start=2):
            ref = (row.get("incident") or "").strip()
            if not ref:
                raise LogError(f"line {line}: 'incident' is empty")
            status = (row.get("status") or "").strip() or None
            if status is not None and status not in STATUSES:
                raise LogError(f"line {line}: unknown status {status!r}")
            reason = (row.get("pending_reason") or "").strip()
            if reason not in REASONS:
                raise LogError(f"line {line}: unknown pending_reason {reason!r}")
            group = (row.get("group") or "").strip()
            if status is None and not group:
                raise LogError(f"line {line}: give a status, a group or both")
            changes[ref].append(
                Change(
                    at=_moment(row["at"], zone, line),
                    status=status,
                    group=group,
                    level=_int(row.get("level") or "", "level", line, 1, 3),
                    pending_reason=reason or ("awaiting_user" if status == "pending" else ""),
                    satisfaction=_int(row.get("satisfaction") or "", "satisfaction", line, 1, 5),
                )
            )
            card = cards[ref]
            for key in ("title", "severity", "service", "technology", "user_group"):
                value = (row.get(key) or "").strip()
                if value and key not in card:
                    if key == "severity":
                        _int(value, "severity", line, 1, 9)
                    card[key] = value
    for ref, items in changes.items():
        card = cards[ref]
        yield Case(
            ref=ref_prefix + ref,
            title=card.get("title") or f"Imported incident {ref}",
            severity=int(card.get("severity") or 3),
            changes=items,
            service=card.get("service", ""),
            technology=card.get("technology", ""),
            user_group=card.get("user_group", ""),
        )
