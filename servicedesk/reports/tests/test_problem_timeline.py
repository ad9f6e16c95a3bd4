"""The problem history walker on timelines the story does not cover: a cause
that proves wrong, a resolved problem that recurs, a move while deferred."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from servicedesk.reports.problem_timeline import build


def at(day: int, hour: int = 9) -> datetime:
    return datetime(2025, 3, day, hour, tzinfo=UTC)


OPS, ENG = {"id": 1, "name": "Ops"}, {"id": 2, "name": "Eng"}


def created() -> tuple[str, datetime, dict[str, Any]]:
    return ("created", at(3), {"status": "new", "support_level": 2, "priority": 3,
                               "assigned_group": OPS, "owner_group": OPS,
                               "cause_estimate_hours": 8})  # fmt: skip


def status(day: int, to: str, hour: int = 9) -> tuple[str, datetime, dict[str, Any]]:
    return ("status_changed", at(day, hour), {"status_to": to})


def test_a_cause_that_proves_wrong_is_not_found_until_found_again() -> None:
    history = build(1, [
        created(), status(3, "under_investigation", 10),
        ("root_cause_found", at(4), {}), status(5, "under_investigation"),
    ])  # fmt: skip
    assert history.cause_found_at is None and history.cause_unknown
    again = build(1, [
        created(), status(3, "under_investigation", 10), ("root_cause_found", at(4), {}),
        status(5, "under_investigation"), ("root_cause_found", at(6), {}),
    ])  # fmt: skip
    assert again.cause_found_at == at(6) and not again.cause_unknown


def test_a_resolved_problem_that_recurs_is_finished_at_its_last_resolution() -> None:
    events = [
        created(), status(3, "under_investigation", 10), ("root_cause_found", at(4), {}),
        ("resolved", at(5), {}), status(6, "under_investigation"),
    ]  # fmt: skip
    assert build(1, events).finished_at is None
    events += [("root_cause_found", at(7), {}), ("resolved", at(8), {}), ("closed", at(9), {})]
    history = build(1, events)
    assert history.finished_at == at(8) and history.status == "closed"


def test_a_move_while_deferred_counts_no_time_and_the_levels_reached() -> None:
    history = build(1, [
        created(), status(3, "under_investigation", 10), ("deferred", at(3, 12), {}),
        ("escalated", at(4), {"to_level": 3, "to_group": ENG}),
        status(5, "under_investigation"), ("closed", at(5, 11), {}),
    ])  # fmt: skip
    held = [(s.level, s.group_id, (s.until(at(9)) - s.start).total_seconds() / 3600)
            for s in history.held()]  # fmt: skip
    assert held == [(2, 1, 1.0), (2, 1, 2.0), (3, 2, 2.0)]
    assert history.levels == {2, 3} and history.groups == {1, 2}
    assert history.deferrals == [(at(3, 12), at(5))]
    assert history.finished_at == at(5, 11) and history.cause_found_at is None
