"""The hand-computed problem the problem figures are tested on: deferred and
resumed, escalated to the 3rd line and handed back, built through the problem,
known-error and fix-project services with time-machine.

March 2025, UTC; business hours 09:00-18:00 Monday to Friday.

    Mon 3 08:00  opened by the problem manager for the story incident (severity 3,
                 Finance, Network), held by Network Operations (2nd line);
                 priority 2, estimate to find the cause 10 h
    Mon 3 11:00  investigation starts
    Mon 3 13:00  escalated to Network Engineering (3rd line)
    Mon 3 15:00  deferred (waiting for the vendor's release)
    Tue 4 10:00  investigation resumes (Network Engineering)
    Tue 4 12:00  handed back to Network Operations (2nd line)
    Tue 4 14:00  root cause found (a known error is created)
    Tue 4 14:30  workaround published for all support levels
    Tue 4 15:00  a new incident (Sales) is registered; 15:30 the workaround is applied
                 to it and resolves it (an incident caused by the known error)
    Tue 4 16:00  resolved;  Wed 5 09:00 closed
    Tue 4 16:30  fix project A proposed (estimate 5000, Network Engineering);
                 Wed 5 10:00 approved; Thu 6 10:00 started;
                 Mon 7 Apr 10:00 implemented at an actual cost of 6200
    Mon 10 09:00 a second problem, E-mail, Sales, opened by hand and left new
    Mon 10 10:00 fix project B proposed (estimate 1000); Wed 12 10:00 cancelled

By hand (problem 1):
    held at level 2 = Mon 08:00-13:00 + Tue 12:00-16:00 = 5 h + 4 h = 9 h
                      business: Mon 09:00-13:00 + Tue 12:00-16:00 = 8 h
    held at level 3 = Mon 13:00-15:00 + Tue 10:00-12:00 = 4 h (business 4 h)
    deferred        = Mon 15:00 -> Tue 10:00 = 19 h (held by nobody)
    time to the cause = Mon 08:00 -> Tue 14:00 = 30 h;
                      business Mon 09:00-18:00 + Tue 09:00-14:00 = 14 h;
                      less the deferral 30 - 19 = 11 h;
                      under investigation Mon 11:00-15:00 + Tue 10:00-14:00 = 8 h <= 10 h
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import time_machine

from servicedesk.incidents import services as incident_services
from servicedesk.knownerrors import fixes
from servicedesk.knownerrors import services as ke_services
from servicedesk.knownerrors.models import FixProject, KnownError
from servicedesk.problems import services as ps
from servicedesk.problems.models import Problem
from servicedesk.testing.org import Org

from . import story


def at(hour: int, minute: int = 0, day: int = 3, month: int = 3) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=UTC)


@dataclass
class Built:
    problem: Problem
    other: Problem
    known_error: KnownError
    fix_a: FixProject
    fix_b: FixProject


def build(org: Org, *, until: datetime | None = None) -> Built:
    """Play the story up to ``until`` (all of it by default)."""
    incident = story.build(org)
    pm = org.problem_manager
    made: dict[str, Any] = {}

    def run(moment: datetime, step: Callable[[], Any]) -> None:
        if until is not None and moment > until:
            return
        with time_machine.travel(moment, tick=False):
            step()

    run(at(8), lambda: made.setdefault("problem", ps.do_create_problem(
        actor=pm, title="Uplink drops under load", technology=org.network, incidents=[incident],
        owner_group=org.net_ops, priority=2, cause_estimate_hours=10,
    )))  # fmt: skip
    pk = made["problem"].pk
    run(at(11), lambda: ps.do_start_investigation(problem=pk, actor=pm))
    run(at(13), lambda: ps.do_escalate(problem=pk, actor=pm, reason="needs engineering"))
    run(
        at(15), lambda: ps.do_defer(problem=pk, actor=pm, reason="waiting for the vendor's release")
    )
    run(at(10, day=4), lambda: ps.do_start_investigation(problem=pk, actor=pm))
    run(at(12, day=4), lambda: ps.do_de_escalate(problem=pk, actor=pm, reason="back to ops"))
    run(at(14, day=4), lambda: ps.do_record_root_cause(
        problem=pk, actor=pm, root_cause="Firmware bug in the uplink module."))  # fmt: skip
    run(at(14, 30, day=4), lambda: ps.do_publish_workaround(
        problem=pk, actor=pm, workaround="Restart the uplink port."))  # fmt: skip

    def second_incident() -> None:
        made["incident2"] = incident_services.do_create_incident(
            actor=org.desk_agent, title="Internet slow", reporter=org.reporter2,
            service=org.internet, affected_users=5,
        )  # fmt: skip

    run(at(15, day=4), second_incident)
    run(at(15, 30, day=4), lambda: ke_services.do_apply_workaround(
        incident=made["incident2"].pk, known_error=KnownError.objects.get(problem_id=pk),
        actor=org.desk_agent))  # fmt: skip
    run(at(16, day=4), lambda: ps.do_resolve(problem=pk, actor=pm, resolution="Firmware updated."))
    run(at(9, day=5), lambda: ps.do_close(problem=pk, actor=pm))
    run(at(16, 30, day=4), lambda: made.setdefault("fix_a", fixes.do_create_fix_project(
        actor=pm, known_error=KnownError.objects.get(problem_id=pk), title="Replace firmware",
        group=org.net_eng, cost_estimate=5000)))  # fmt: skip
    fix_a = made.get("fix_a")
    if fix_a is not None:
        run(at(10, day=5), lambda: fixes.do_change_fix_status(
            fix_project=fix_a.pk, actor=pm, status="approved"))  # fmt: skip
        run(at(10, day=6), lambda: fixes.do_change_fix_status(
            fix_project=fix_a.pk, actor=pm, status="in_progress"))  # fmt: skip
        run(at(10, day=7, month=4), lambda: fixes.do_change_fix_status(
            fix_project=fix_a.pk, actor=pm, status="implemented",
            actual_cost=Decimal("6200")))  # fmt: skip
    run(at(9, day=10), lambda: made.setdefault("other", ps.do_create_problem(
        actor=pm, title="Mail queue stalls", technology=org.email, user_groups=[org.sales],
        owner_group=org.mail_ops, priority=3, cause_estimate_hours=20,
    )))  # fmt: skip
    run(at(10, day=10), lambda: made.setdefault("fix_b", fixes.do_create_fix_project(
        actor=pm, known_error=KnownError.objects.get(problem_id=pk), title="Second uplink",
        cost_estimate=1000)))  # fmt: skip
    if "fix_b" in made:
        run(at(10, day=12), lambda: fixes.do_change_fix_status(
            fix_project=made["fix_b"].pk, actor=pm, status="cancelled", reason="Too costly"))  # fmt: skip
    return Built(
        problem=Problem.objects.get(pk=pk), other=made.get("other"),  # type: ignore[arg-type]
        known_error=KnownError.objects.filter(problem_id=pk).first(),  # type: ignore[arg-type]
        fix_a=made.get("fix_a"), fix_b=made.get("fix_b"),  # type: ignore[arg-type]
    )  # fmt: skip
