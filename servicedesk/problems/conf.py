"""Problem control settings: defaults here, overrides from Django settings or the
environment (``SERVICEDESK_PROBLEM_*``). Read at call time, so tests and
deployments can change them without a restart of the module."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # Incidents at or above this severity (1 is the highest) become candidates.
    "SERVICEDESK_PROBLEM_CANDIDATE_SEVERITY": 1,
    # Incidents functionally escalated to this level become candidates.
    "SERVICEDESK_PROBLEM_CANDIDATE_LEVEL": 3,
    # The estimate to find the cause when none is given at opening.
    "SERVICEDESK_PROBLEM_DEFAULT_ESTIMATE_HOURS": 40,
    # The daily review queue: incidents opened within this many hours.
    "SERVICEDESK_PROBLEM_REVIEW_HOURS": 24,
    # Trend analysis (transparent rules, see docs/problems.md).
    "SERVICEDESK_TREND_WINDOW_DAYS": 30,
    "SERVICEDESK_TREND_MIN_INCIDENTS": 3,
    "SERVICEDESK_TREND_DIMENSIONS": "configuration_item,service,category,text",
    "SERVICEDESK_TREND_TEXT_SIMILARITY": 0.5,
    # Known-error monitoring: incidents in the last window against the mean of
    # the windows before it; "rising" from this factor and count up.
    "SERVICEDESK_KE_RATE_WINDOW_DAYS": 7,
    "SERVICEDESK_KE_RATE_BASELINE_WINDOWS": 4,
    "SERVICEDESK_KE_RATE_FACTOR": 1.5,
    "SERVICEDESK_KE_RATE_MIN_INCIDENTS": 3,
}


def get(name: str) -> Any:
    if hasattr(settings, name):
        return getattr(settings, name)
    default = DEFAULTS[name]
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw


def candidate_severity() -> int:
    return int(get("SERVICEDESK_PROBLEM_CANDIDATE_SEVERITY"))


def candidate_level() -> int:
    return int(get("SERVICEDESK_PROBLEM_CANDIDATE_LEVEL"))


def default_estimate_hours() -> int:
    return int(get("SERVICEDESK_PROBLEM_DEFAULT_ESTIMATE_HOURS"))


def review_hours() -> int:
    return int(get("SERVICEDESK_PROBLEM_REVIEW_HOURS"))
