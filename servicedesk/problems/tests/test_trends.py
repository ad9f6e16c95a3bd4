"""Trend analysis: clusters of closed, unexplained incidents, rules and proposals."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from servicedesk.core import registry
from servicedesk.incidents import services as incident_services
from servicedesk.incidents.models import Incident
from servicedesk.knownerrors import services as ke_services
from servicedesk.problems import candidates, trends
from servicedesk.problems.models import Candidate
from servicedesk.testing.factories import CategoryFactory
from servicedesk.testing.org import Org

pytestmark = pytest.mark.django_db


def closed(org: Org, title: str, days_ago: float = 1, **kw: Any) -> Incident:
    with time_machine.travel(timezone.now() - timedelta(days=days_ago), tick=False):
        i = incident_services.do_create_incident(
            actor=org.desk_agent, title=title, reporter=org.reporter, **kw
        )
        incident_services.do_resolve(
            incident=i, actor=org.desk_agent, resolution_code="other", resolution="ok"
        )
        incident_services.do_close(incident=i, actor=org.desk_agent)
    return i


def rules(**kw: Any) -> trends.Rules:
    return trends.rules(**kw)


class TestClusters:
    def test_same_ci_service_category_with_evidence(self, org: Org) -> None:
        network = CategoryFactory(name="Connectivity")
        members = [
            closed(org, f"Link down {n}", configuration_item=org.router, category=network)
            for n in range(3)
        ]
        closed(org, "Mail slow", service=org.mail)
        found = trends.find_clusters(rules())
        by_rule = {c.rule: c for c in found}
        ci = by_rule["configuration_item"]
        assert (ci.label, [i.pk for i in ci.incidents]) == (
            "core-router-01",
            [m.pk for m in members],
        )
        # The same three incidents by service and category add nothing: left out.
        assert set(by_rule) == {"configuration_item"}
        evidence = ci.evidence(rules())
        assert evidence["count"] == 3 and evidence["rules"]["window_days"] == 30
        assert evidence["explanation"].startswith(
            "3 closed incidents on configuration item core-router-01"
        )

    def test_similar_text_in_both_languages(self, org: Org) -> None:
        titles = ["Принтер зажевывает бумагу", "Принтер зажёвывает бумагу на втором этаже",
                  "принтер зажевал бумагу", "VPN drops again", "Laptop will not start"]  # fmt: skip
        texts = [closed(org, t) for t in titles]
        found = trends.find_clusters(rules(dimensions=["text"], text_similarity=0.4))
        assert len(found) == 1
        assert [i.pk for i in found[0].incidents] == [i.pk for i in texts[:3]]
        assert "принтер" in found[0].shared_terms

    def test_window_threshold_and_exclusions(self, org: Org) -> None:
        old = closed(org, "Router reboot", days_ago=40, configuration_item=org.router)
        recent = [
            closed(org, f"Router reboot {n}", configuration_item=org.router) for n in range(2)
        ]
        assert trends.find_clusters(rules(dimensions=["configuration_item"])) == []
        assert (
            len(trends.find_clusters(rules(dimensions=["configuration_item"], window_days=60))) == 1
        )
        # Open incidents and incidents already explained do not count.
        incident_services.do_create_incident(actor=org.desk_agent, title="Router reboot", reporter=org.reporter,
                                             configuration_item=org.router)  # fmt: skip
        known = ke_services.do_create_known_error(actor=org.problem_manager, title="Reboots",
                                                  symptoms="reboot", root_cause="psu", workaround="swap")  # fmt: skip
        extra = incident_services.do_create_incident(actor=org.desk_agent, title="Router reboot",
                                                     reporter=org.reporter, configuration_item=org.router)  # fmt: skip
        ke_services.do_apply_workaround(incident=extra, known_error=known, actor=org.desk_agent)
        incident_services.do_close(incident=extra, actor=org.desk_agent)
        assert trends.population(rules()) == list(reversed(recent))
        assert old in trends.population(rules(window_days=60))

    def test_unknown_dimension_is_an_error(self, org: Org) -> None:
        from servicedesk.core.errors import FieldError

        with pytest.raises(FieldError):
            rules(dimensions=["colour"])


class TestProposals:
    def test_job_proposes_once_and_respects_dismissal(self, org: Org) -> None:
        for n in range(3):
            closed(org, f"Router reboot {n}", configuration_item=org.router)
        job = registry.periodic_jobs["problems.trend_analysis"]
        assert job.function() == "1 trend clusters proposed"
        job.function()
        candidate = Candidate.objects.get(source="trend")
        assert candidate.fingerprint == f"trend:configuration_item:{org.router.pk}"
        assert candidate.incidents.count() == 3 and candidate.evidence["count"] == 3
        candidates.do_dismiss_candidate(
            candidate=candidate, actor=org.problem_manager, note="known noise"
        )
        assert trends.propose(rules()) == []
        closed(org, "Router reboot again", days_ago=-0.01, configuration_item=org.router)
        assert len(trends.propose(rules())) == 1
        assert Candidate.objects.filter(source="trend", state="open").get().incidents.count() == 4
