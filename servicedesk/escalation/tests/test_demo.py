"""The demo: Table 4 replayed over the demo's past, on-call schedules for its groups."""

from __future__ import annotations

import pytest

from servicedesk.accounts.models import SupportGroup
from servicedesk.core.demo import build
from servicedesk.escalation.models import EscalationStep, IncidentEscalation
from servicedesk.incidents.models import Incident, IncidentEvent
from servicedesk.oncall.models import OnCallSchedule
from servicedesk.oncall.selectors import on_call_person

pytestmark = pytest.mark.django_db


def test_demo_escalates_its_past_and_keeps_schedules() -> None:
    build()
    assert OnCallSchedule.objects.count() == SupportGroup.objects.count()
    netops = SupportGroup.objects.get(name="Network Operations")
    assert (
        on_call_person(netops, Incident.objects.earliest("opened_at").opened_at) is None
    )  # before the rotation
    from servicedesk.core import clock

    assert on_call_person(netops, clock.now()) in netops.members.all()
    # Open incidents follow Table 4; their past steps fired at their own moments.
    crm = Incident.objects.get(external_ref="DEMO-013")
    automatic = IncidentEvent.objects.filter(
        incident=crm, type="escalated", payload__automatic=True
    )
    assert [(e.payload["kind"], e.payload["to_level"]) for e in automatic] == [
        ("functional", 2), ("functional", 3), ("hierarchical", None),
    ]  # fmt: skip
    # Severity 3: the 2nd line at +30, the 3rd at +150, the manager at +270 minutes.
    assert [(e.at - crm.opened_at).total_seconds() / 60 for e in automatic] == [30, 150, 270]
    # Pending on a problem: the clocks run but no step pulled it out of pending.
    payroll = Incident.objects.get(external_ref="DEMO-015")
    assert (
        payroll.status == "pending" and IncidentEscalation.objects.get(incident=payroll).steps_held
    )
    # Closed incidents are stopped; the demo is idempotent.
    assert IncidentEscalation.objects.get(incident__external_ref="DEMO-001").status == "stopped"
    fired = EscalationStep.objects.count()
    build()
    assert EscalationStep.objects.count() == fired
