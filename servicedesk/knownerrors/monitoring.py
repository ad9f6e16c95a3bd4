"""Known-error monitoring (SPEC 3 error control: "monitor known errors to
re-prioritise them"): incidents caused by each known error over time, and a
flag when the rate rises.

An incident is caused by a known error when its workaround was applied to it
or it is linked to the known error's problem; it counts in the window of its
opening. Rising: the last window has at least ``MIN_INCIDENTS`` and at least
``FACTOR`` times the mean of the ``BASELINE_WINDOWS`` windows before it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction

from servicedesk.core import clock
from servicedesk.problems import conf
from servicedesk.problems.models import ProblemIncident

from .models import KnownError, KnownErrorIncident, Status
from .services import append_event


@dataclass(frozen=True)
class RateRules:
    window_days: int
    baseline_windows: int
    factor: float
    min_incidents: int


def rate_rules() -> RateRules:
    return RateRules(
        window_days=int(conf.get("SERVICEDESK_KE_RATE_WINDOW_DAYS")),
        baseline_windows=int(conf.get("SERVICEDESK_KE_RATE_BASELINE_WINDOWS")),
        factor=float(conf.get("SERVICEDESK_KE_RATE_FACTOR")),
        min_incidents=int(conf.get("SERVICEDESK_KE_RATE_MIN_INCIDENTS")),
    )


@dataclass(frozen=True)
class Trend:
    windows: list[tuple[datetime, datetime, int]]  # oldest first; the last is "recent"
    recent: int
    baseline: float
    rising: bool


def _opened_times(
    known_error_ids: list[int] | None, since: datetime
) -> dict[int, set[tuple[int, datetime]]]:
    """known error id -> {(incident id, opened_at)} for incidents opened since ``since``."""
    result: dict[int, set[tuple[int, datetime]]] = defaultdict(set)
    links = KnownErrorIncident.objects.filter(incident__opened_at__gte=since)
    if known_error_ids is not None:
        links = links.filter(known_error_id__in=known_error_ids)
    for ke_id, incident_id, opened in links.values_list(
        "known_error_id", "incident_id", "incident__opened_at"
    ):
        result[ke_id].add((incident_id, opened))
    problems = KnownError.objects.exclude(problem=None)
    if known_error_ids is not None:
        problems = problems.filter(pk__in=known_error_ids)
    by_problem: dict[int, list[int]] = defaultdict(list)
    for ke_id, problem_id in problems.values_list("pk", "problem_id"):
        by_problem[problem_id].append(ke_id)
    if by_problem:
        for problem_id, incident_id, opened in ProblemIncident.objects.filter(
            problem_id__in=list(by_problem), incident__opened_at__gte=since
        ).values_list("problem_id", "incident_id", "incident__opened_at"):
            for ke_id in by_problem[problem_id]:
                result[ke_id].add((incident_id, opened))
    return result


def _trend(times: set[tuple[int, datetime]], rules: RateRules, now: datetime) -> Trend:
    count = rules.baseline_windows + 1
    width = timedelta(days=rules.window_days)
    windows = []
    for index in range(count):
        end = now - width * (count - 1 - index)
        start = end - width
        windows.append((start, end, sum(1 for _, opened in times if start <= opened < end)))
    recent = windows[-1][2]
    baseline = sum(w[2] for w in windows[:-1]) / max(1, rules.baseline_windows)
    rising = recent >= rules.min_incidents and recent >= rules.factor * max(baseline, 1.0)
    return Trend(windows, recent, round(baseline, 2), rising)


def trend(known_error: KnownError, now: datetime | None = None) -> Trend:
    rules = rate_rules()
    now = now or clock.now()
    since = now - timedelta(days=rules.window_days * (rules.baseline_windows + 1))
    times = _opened_times([known_error.pk], since).get(known_error.pk, set())
    return _trend(times, rules, now)


@transaction.atomic
def do_update_rate_flags(now: datetime | None = None) -> list[int]:
    """The daily check: flag known errors whose incident rate rises (an event
    ``rate_rising`` asks for re-prioritisation), clear the flag when it falls.
    Returns the ids newly flagged."""
    rules = rate_rules()
    now = now or clock.now()
    since = now - timedelta(days=rules.window_days * (rules.baseline_windows + 1))
    times = _opened_times(None, since)
    flagged: list[int] = []
    candidates = KnownError.objects.exclude(status=Status.CLOSED).filter(
        pk__in=set(times)
        | set(KnownError.objects.filter(rate_rising=True).values_list("pk", flat=True))
    )
    for known_error in candidates.select_for_update():
        result = _trend(times.get(known_error.pk, set()), rules, now)
        if result.rising and not known_error.rate_rising:
            flagged.append(known_error.pk)
            append_event(
                known_error, "rate_rising", actor=None,
                payload={"recent": result.recent, "baseline": result.baseline,
                         "window_days": rules.window_days},
            )  # fmt: skip
        if result.rising != known_error.rate_rising:
            known_error.rate_rising = result.rising
        known_error.rate_checked_at = now
        known_error.save(update_fields=["rate_rising", "rate_checked_at"])
    return flagged
