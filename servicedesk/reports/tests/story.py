"""The hand-computed incident every figure is tested on: reopened, paused and
reassigned twice, built through the incident services with time-machine.

Monday 3 March 2025, UTC; business hours 09:00-18:00 Monday to Friday.

    08:00 registered by the service desk for a Finance user, "Internet access"
          (Network), 5 users blocked: severity 3 (target 8 h)
    08:30 the service desk accepts it
    09:00 reassigned (1) to Network Operations (2nd line)
    10:00 Network Operations accepts it
    11:00 pending on a vendor (the SLA clock stops)
    13:00 work resumes
    14:00 reassigned (2) to Network Engineering (3rd line)
    15:00 resolved by Network Engineering; the reporter is told (an outbox message)
    16:00 the reporter reopens it (with Network Engineering again)
    18:00 resolved again by Network Engineering (nobody is told this time)
    Tue 4 March 10:00 closed by the reporter, satisfaction 4

By hand:
    open (time to restore) = 08:00-15:00 + 16:00-18:00 = 7 h + 2 h = 9 h
    business               = 09:00-15:00 + 16:00-18:00 = 6 h + 2 h = 8 h
    net of the pause       = 9 h - 2 h = 7 h <= 8 h: within target
    (opened -> final resolution is 10 h: the gap after the first resolution is not counted)
    Service Desk           = 08:00-09:00 = 1 h, business 0 h
    Network Operations     = 09:00-14:00 = 5 h, business 5 h
    Network Engineering    = 14:00-15:00 + 16:00-18:00 = 3 h, business 3 h
    reached levels 1, 2, 3; resolved at level 3 by Network Engineering
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import time_machine
from django.db import transaction

from servicedesk.core import outbox
from servicedesk.incidents import services as s
from servicedesk.incidents.models import Incident
from servicedesk.testing.org import Org

CODE, FIX = "configuration", "Changed the uplink settings."


def at(hour: int, minute: int = 0, day: int = 3) -> datetime:
    return datetime(2025, 3, day, hour, minute, tzinfo=UTC)


def tell_reporter(incident: Incident) -> None:
    """What the communications app does on a resolution: a message to the end user."""
    with transaction.atomic():
        outbox.enqueue(
            channel="email", destination=incident.reporter.email, payload={"subject": "restored"},
            event_type="resolved", subject_type="incident", subject_id=incident.pk,
        )  # fmt: skip


def steps(org: Org) -> list[tuple[datetime, Callable[[int], object]]]:
    return [
        (at(8, 30), lambda i: s.do_accept(incident=i, actor=org.desk_agent)),
        (at(9), lambda i: s.do_assign(incident=i, actor=org.desk_agent, group=org.net_ops)),
        (at(10), lambda i: s.do_accept(incident=i, actor=org.net_ops_agent)),
        (at(11), lambda i: s.do_set_pending(incident=i, actor=org.net_ops_agent,
                                            reason="awaiting_vendor")),
        (at(13), lambda i: s.do_accept(incident=i, actor=org.net_ops_agent)),
        (at(14), lambda i: s.do_assign(incident=i, actor=org.net_ops_agent, group=org.net_eng)),
        (at(15), lambda i: s.do_resolve(incident=i, actor=org.net_engineer, resolution_code=CODE, resolution=FIX)),
        (at(15, 1), lambda i: tell_reporter(Incident.objects.get(pk=i))),
        (at(16), lambda i: s.do_reopen(incident=i, actor=org.reporter, reason="Down again")),
        (at(18), lambda i: s.do_resolve(incident=i, actor=org.net_engineer, resolution_code=CODE, resolution=FIX)),
        (at(10, day=4), lambda i: s.do_close(incident=i, actor=org.reporter, satisfaction=4)),
    ]  # fmt: skip


def build(org: Org, *, until: datetime | None = None) -> Incident:
    """Play the story up to ``until`` (all of it by default).

    The escalation engine is switched off: the story's figures are measured
    against the reports' own target table; deadlines set by the engine are
    covered by ``test_resolve_by_deadline_wins_over_the_table``."""
    from servicedesk.escalation.models import EscalationPolicy

    EscalationPolicy.objects.update(active=False)
    with time_machine.travel(at(8), tick=False):
        incident = s.do_create_incident(
            actor=org.desk_agent, title="No internet on floor 3", reporter=org.reporter,
            service=org.internet, affected_users=5,
        )  # fmt: skip
    for moment, step in steps(org):
        if until is not None and moment > until:
            break
        with time_machine.travel(moment, tick=False):
            step(incident.pk)
    incident.refresh_from_db()
    return incident
