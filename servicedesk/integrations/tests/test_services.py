"""Alerts -> incidents through the services: opening, de-duplication, resolution,
mapping rules, and the database constraint that makes "one open incident per key" hold."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction

from servicedesk.core import clock
from servicedesk.incidents import services as incident_services
from servicedesk.incidents.models import Incident, IncidentEvent, Source, Status
from servicedesk.integrations import services
from servicedesk.integrations.intake.payloads import PARSERS
from servicedesk.integrations.models import AlertGroup, MappingRule
from servicedesk.testing.factories import ConfigurationItemFactory
from servicedesk.testing.org import Org

from .helpers import am_alert, am_firing, am_resolved, deliver, integration, opened_id

pytestmark = pytest.mark.django_db


def events(incident_id: int, event_type: str) -> list[IncidentEvent]:
    return list(IncidentEvent.objects.filter(incident_id=incident_id, type=event_type))


class TestFiring:
    def test_first_alert_opens_a_severity_4_monitoring_incident(self, org: Org) -> None:
        am, _ = integration()
        (outcome,) = deliver(am, am_firing())
        assert outcome.action == "opened"
        incident = Incident.objects.get(pk=opened_id(outcome))
        assert incident.source == Source.MONITORING and incident.status == Status.NEW
        assert incident.affected_users == 0 and incident.severity == 4
        assert incident.title == "Disk almost full on db01"
        assert incident.reporter == am.system_user and not am.system_user.is_active
        assert incident.external_ref == "alertmanager:b3cdf832dd4b7a15"
        created = events(incident.pk, "created")[0]
        assert created.actor is None
        (received,) = events(incident.pk, "alert_received")
        assert received.payload["repeat"] is False and received.payload["count"] == 1
        assert received.payload["labels"]["instance"] == "db01:9100"
        assert received.payload["integration"] == {"id": am.pk, "name": am.name}
        group = AlertGroup.objects.get(integration=am)
        assert group.is_open and group.count == 1 and group.incident_id == incident.pk

    def test_repeats_update_the_open_incident(self, org: Org) -> None:
        am, _ = integration()
        opened = opened_id(deliver(am, am_firing())[0])
        for _ in range(3):
            assert deliver(am, am_firing())[0].action == "updated"
        assert Incident.objects.count() == 1
        group = AlertGroup.objects.get(integration=am)
        assert group.count == 4 and group.incident_id == opened
        # Within repeat_event_minutes the repeats add no timeline event.
        assert len(events(opened, "alert_received")) == 1

    def test_repeat_events_are_throttled_per_group(self, org: Org) -> None:
        am, _ = integration(repeat_event_minutes=5)
        start = clock.now()
        with clock.frozen_at(start):
            incident_id = opened_id(deliver(am, am_firing())[0])
        with clock.frozen_at(start + timedelta(minutes=4)):
            deliver(am, am_firing())
        with clock.frozen_at(start + timedelta(minutes=6)):
            deliver(am, am_firing())
        received = events(incident_id, "alert_received")
        assert [e.payload["count"] for e in received] == [1, 3]
        assert received[1].payload["repeat"] is True
        group = AlertGroup.objects.get(integration=am)
        assert group.last_seen_at == start + timedelta(minutes=6)

    def test_every_repeat_is_an_event_when_asked(self, org: Org) -> None:
        am, _ = integration(repeat_event_minutes=0)
        incident_id = opened_id(deliver(am, am_firing())[0])
        deliver(am, am_firing())
        deliver(am, am_firing())
        assert len(events(incident_id, "alert_received")) == 3

    def test_a_storm_in_one_delivery_opens_one_incident(self, org: Org) -> None:
        am, _ = integration(dedup_labels=["alertname", "service"])
        payload = am_firing()
        payload["alerts"] = [am_alert(payload, fingerprint=f"fp{n}", instance=f"db{n}:9100")
                             for n in range(200)]  # fmt: skip
        outcomes = deliver(am, payload)
        assert [o.action for o in outcomes].count("opened") == 1
        assert Incident.objects.count() == 1
        group = AlertGroup.objects.get(integration=am)
        assert group.key == "alertname=DiskFull|service=db" and group.count == 200
        assert len(group.firing) == 200

    def test_different_keys_open_different_incidents(self, org: Org) -> None:
        am, _ = integration()
        payload = am_firing()
        payload["alerts"] = [am_alert(payload, fingerprint=f"fp{n}") for n in range(5)]
        assert [o.action for o in deliver(am, payload)] == ["opened"] * 5
        assert Incident.objects.count() == 5

    def test_integrations_do_not_share_keys(self, org: Org) -> None:
        first, _ = integration(name="prom-a")
        second, _ = integration(name="prom-b")
        deliver(first, am_firing())
        deliver(second, am_firing())
        assert Incident.objects.count() == 2


class TestResolved:
    def test_resolved_alert_resolves_the_incident(self, org: Org) -> None:
        am, _ = integration()
        incident_id = opened_id(deliver(am, am_firing())[0])
        (outcome,) = deliver(am, am_resolved())
        assert outcome.action == "resolved" and outcome.incident == incident_id
        incident = Incident.objects.get(pk=incident_id)
        assert incident.status == Status.RESOLVED and incident.resolution_code == "other"
        assert "stopped firing" in incident.resolution
        (resolved_event,) = events(incident_id, "alert_resolved")
        assert resolved_event.payload["action"] == "resolve"
        assert events(incident_id, "resolved")[0].actor is None
        group = AlertGroup.objects.get(integration=am)
        assert not group.is_open and group.alert_status == "resolved"
        # The next firing is a new incident.
        (again,) = deliver(am, am_firing())
        assert again.action == "opened" and again.incident != incident_id

    def test_event_only_keeps_the_incident_open(self, org: Org) -> None:
        am, _ = integration(on_resolved="event")
        incident_id = opened_id(deliver(am, am_firing())[0])
        assert deliver(am, am_resolved())[0].action == "alert_resolved"
        assert Incident.objects.get(pk=incident_id).status == Status.NEW
        assert len(events(incident_id, "alert_resolved")) == 1
        # It fires again: same incident, and an event although within the repeat interval.
        assert opened_id(deliver(am, am_firing())[0]) == incident_id
        assert len(events(incident_id, "alert_received")) == 2

    def test_a_shared_key_resolves_with_its_last_alert(self, org: Org) -> None:
        am, _ = integration(dedup_labels=["alertname"])
        payload = am_firing()
        payload["alerts"] = [am_alert(payload, fingerprint="a"), am_alert(payload, fingerprint="b")]
        incident_id = opened_id(deliver(am, payload)[0])
        resolved = am_resolved()
        resolved["alerts"] = [am_alert(resolved, fingerprint="a", status="resolved")]
        assert deliver(am, resolved)[0].action == "updated"
        assert Incident.objects.get(pk=incident_id).status == Status.NEW
        resolved["alerts"] = [am_alert(resolved, fingerprint="b", status="resolved")]
        assert deliver(am, resolved)[0].action == "resolved"

    def test_resolved_then_firing_in_one_delivery_opens_a_new_incident(self, org: Org) -> None:
        am, _ = integration(dedup_labels=["alertname"])
        first = opened_id(deliver(am, am_firing())[0])
        payload = am_firing()
        payload["alerts"] = [
            am_alert(payload, fingerprint="b3cdf832dd4b7a15", status="resolved"),
            am_alert(payload, fingerprint="other", instance="db02:9100"),
        ]
        resolved, opened = deliver(am, payload)
        assert (resolved.action, resolved.incident) == ("resolved", first)
        assert opened.action == "opened" and opened.incident != first
        assert AlertGroup.objects.filter(integration=am, is_open=True).get().count == 1

    def test_resolved_without_an_open_incident_changes_nothing(self, org: Org) -> None:
        am, _ = integration()
        assert deliver(am, am_resolved())[0].action == "not_open"
        assert Incident.objects.count() == 0

    def test_a_person_resolving_frees_the_key(self, org: Org) -> None:
        am, _ = integration()
        incident_id = opened_id(deliver(am, am_firing())[0])
        incident_services.do_resolve(incident=incident_id, actor=org.desk_agent,
                                     resolution_code="configuration", resolution="Cleaned /var")  # fmt: skip
        assert not AlertGroup.objects.get(integration=am).is_open
        # A late "resolved" from the monitor finds nothing open.
        assert deliver(am, am_resolved())[0].action == "not_open"
        new_id = opened_id(deliver(am, am_firing())[0])
        assert new_id != incident_id

    def test_reopening_takes_the_key_back(self, org: Org) -> None:
        am, _ = integration()
        incident_id = opened_id(deliver(am, am_firing())[0])
        deliver(am, am_resolved())
        incident_services.do_reopen(incident=incident_id, actor=None, reason="still full")
        assert AlertGroup.objects.get(integration=am).is_open
        assert opened_id(deliver(am, am_firing())[0]) == incident_id

    def test_reopening_leaves_a_key_a_newer_incident_holds(self, org: Org) -> None:
        am, _ = integration()
        first = opened_id(deliver(am, am_firing())[0])
        deliver(am, am_resolved())
        second = opened_id(deliver(am, am_firing())[0])
        incident_services.do_reopen(incident=first, actor=None)
        assert opened_id(deliver(am, am_firing())[0]) == second
        assert AlertGroup.objects.filter(integration=am, is_open=True).count() == 1

    def test_cancelling_frees_the_key(self, org: Org) -> None:
        am, _ = integration()
        first = opened_id(deliver(am, am_firing())[0])
        incident_services.do_cancel(incident=first, actor=org.desk_agent, reason="test alert")
        assert opened_id(deliver(am, am_firing())[0]) != first


def test_a_repeat_delivery_costs_the_same_few_queries_for_any_number_of_alerts(
    org: Org, django_assert_max_num_queries: Any
) -> None:
    am, _ = integration()
    payload = am_firing()
    payload["alerts"] = [am_alert(payload, fingerprint=f"fp{n}") for n in range(50)]
    alerts = PARSERS["alertmanager"](payload)
    services.do_receive_alerts(integration=am, alerts=alerts, body=b"{}", received_at=clock.now(),
                               remote_addr=None)  # fmt: skip
    # Insert-or-ignore, lock, one UPDATE, the log row, and the transaction.
    with django_assert_max_num_queries(6):
        record = services.do_receive_alerts(integration=am, alerts=alerts, body=b"{}",
                                            received_at=clock.now(), remote_addr=None)  # fmt: skip
    assert record.detail == "50 updated"
    assert set(AlertGroup.objects.values_list("count", flat=True)) == {2}


class TestOneOpenGroupPerKey:
    def test_the_database_refuses_a_second_open_group(self, org: Org) -> None:
        am, _ = integration()
        deliver(am, am_firing())
        group = AlertGroup.objects.get(integration=am)
        twin: dict[str, Any] = {"integration": am, "key": group.key, "first_seen_at": clock.now(),
                                "last_seen_at": clock.now()}  # fmt: skip
        with pytest.raises(IntegrityError), transaction.atomic():
            AlertGroup.objects.create(**twin)
        # Closed groups of the key are history and do not count.
        AlertGroup.objects.create(**twin, is_open=False)


@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_of_a_new_key_open_one_incident(org: Org) -> None:
    am, _ = integration()
    threads, barrier, errors = 6, threading.Barrier(6), []
    results: list[str] = []

    def send() -> None:
        try:
            barrier.wait(timeout=10)
            results.extend(o.action for o in deliver(am, am_firing()))
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=send) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert not errors, errors
    assert sorted(results) == ["opened"] + ["updated"] * (threads - 1)
    assert Incident.objects.count() == 1
    assert AlertGroup.objects.get(integration=am).count == threads


class TestMapping:
    def test_rules_set_service_ci_severity_and_text(self, org: Org) -> None:
        db01 = ConfigurationItemFactory(name="db01", service=org.mail, technology=org.email)
        am, _ = integration()
        MappingRule.objects.create(
            integration=am, position=1, name="critical", match={"severity": "critical"},
            severity=2, title_template="[{{ labels.service }}] {{ annotations.summary }}",
            description_template="{{ annotations.description|default:\"no description\" }} "
                                 "({{ labels.instance }})",
        )  # fmt: skip
        MappingRule.objects.create(integration=am, position=2, name="hosts", ci_label="instance")
        MappingRule.objects.create(integration=am, position=3, name="late", severity=3)
        incident = Incident.objects.get(pk=opened_id(deliver(am, am_firing())[0]))
        assert incident.title == "[db] Disk almost full on db01"
        assert incident.description == "no description (db01:9100)"
        assert incident.configuration_item == db01
        assert incident.service == org.mail and incident.technology == org.email
        assert incident.severity == 2 and "critical" in incident.severity_reason

    def test_users_affected_sets_the_severity_band(self, org: Org) -> None:
        am, _ = integration()
        MappingRule.objects.create(integration=am, match={"service": "db"}, affected_users=12)
        incident = Incident.objects.get(pk=opened_id(deliver(am, am_firing())[0]))
        assert incident.affected_users == 12 and incident.severity == 2
        assert incident.severity_reason == ""

    def test_unmatched_and_stopped_rules_do_nothing(self, org: Org) -> None:
        am, _ = integration()
        MappingRule.objects.create(integration=am, position=1, match={"severity": "warn.*"},
                                   service=org.internet)  # fmt: skip
        MappingRule.objects.create(integration=am, position=2, match={"alertname": "Disk.*"},
                                   stop=True)  # fmt: skip
        MappingRule.objects.create(integration=am, position=3, service=org.mail)
        incident = Incident.objects.get(pk=opened_id(deliver(am, am_firing())[0]))
        assert incident.service is None and incident.severity == 4

    def test_service_from_label_value(self, org: Org) -> None:
        am, _ = integration()
        MappingRule.objects.create(integration=am, service_label="svc")
        payload = am_firing()
        payload["alerts"][0]["labels"]["svc"] = "internet ACCESS"
        incident = Incident.objects.get(pk=opened_id(deliver(am, payload)[0]))
        assert incident.service == org.internet and incident.technology == org.network

    def test_mapping_is_applied_once_when_the_incident_opens(self, org: Org) -> None:
        am, _ = integration()
        incident_id = opened_id(deliver(am, am_firing())[0])
        MappingRule.objects.create(integration=am, service=org.mail)
        deliver(am, am_firing())
        assert Incident.objects.get(pk=incident_id).service is None
