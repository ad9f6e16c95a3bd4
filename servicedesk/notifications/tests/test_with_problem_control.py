"""The default rules against the real problem and known-error capabilities (not stand-ins)."""

from __future__ import annotations

import pytest

from servicedesk.core.models import OutboxMessage
from servicedesk.incidents import services as incident_services
from servicedesk.knownerrors import services as known_errors
from servicedesk.problems import services as problems
from servicedesk.testing.org import Org

pytestmark = pytest.mark.django_db


def emails(event_type: str) -> set[str]:
    return set(
        OutboxMessage.objects.filter(channel="email", event_type=event_type).values_list(
            "destination", flat=True
        )
    )


def test_a_published_workaround_reaches_every_support_level(org: Org) -> None:
    known_errors.do_create_known_error(
        actor=org.mail_ops_agent, title="Mailbox quota exceeded", symptoms="Cannot receive e-mail",
        root_cause="The mailbox is at its quota.", workaround="Archive old items.", services=[org.mail],
    )  # fmt: skip
    told = emails("known_error.workaround_published")
    # every level, except the author (nobody is told of their own action)
    for person in (org.desk_agent, org.net_ops_agent, org.net_engineer):
        assert person.email in told, person.username
    assert org.reporter.email not in told
    assert org.mail_ops_agent.email not in told
    message = OutboxMessage.objects.filter(event_type="known_error.workaround_published").first()
    assert message is not None
    assert "KE-" in message.payload.get("subject", "") + message.payload.get("body", "")


def test_a_found_root_cause_is_announced(org: Org) -> None:
    incident = incident_services.do_create_incident(
        actor=org.desk_agent, title="Mail bounces", reporter=org.reporter
    )
    problem = problems.do_create_problem(actor=org.problem_manager, title="Mail bounces for many users",
                                         incidents=[incident])  # fmt: skip
    problems.do_start_investigation(problem=problem, actor=org.problem_manager)
    problems.do_record_root_cause(problem=problem, actor=org.problem_manager,
                                  root_cause="A relay lost its certificate.")  # fmt: skip
    assert OutboxMessage.objects.filter(event_type="problem.root_cause_found").exists()
