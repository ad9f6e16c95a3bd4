"""Parsing what senders POST, with the real payload files (no database)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from servicedesk.integrations.intake.payloads import (
    FIRING,
    RESOLVED,
    PayloadError,
    parse_alertmanager,
    parse_generic,
    parse_grafana,
    parse_zabbix,
    short_key,
)

from .helpers import am_firing, am_resolved, fixture


class TestAlertmanager:
    def test_real_firing_payload(self) -> None:
        (alert,) = parse_alertmanager(am_firing())
        assert alert.key == "b3cdf832dd4b7a15" and alert.status == FIRING
        assert alert.title == "Disk almost full on db01"
        assert alert.labels == {"alertname": "DiskFull", "instance": "db01:9100",
                                "service": "db", "severity": "critical"}  # fmt: skip
        assert alert.source_url == "http://prom.local/graph?g0.expr=x"
        assert alert.starts_at is not None and alert.starts_at.year == 2026
        assert "instance=db01:9100" in alert.description

    def test_real_resolved_payload(self) -> None:
        (alert,) = parse_alertmanager(am_resolved())
        assert alert.key == "b3cdf832dd4b7a15" and alert.status == RESOLVED

    def test_unknown_fields_are_ignored(self) -> None:
        payload = am_firing()
        payload["somethingNew"] = {"x": 1}
        payload["alerts"][0]["silenceURL"] = "http://am/silence"
        assert parse_alertmanager(payload)[0].key == "b3cdf832dd4b7a15"

    def test_without_fingerprint_the_labels_are_the_key(self) -> None:
        payload = am_firing()
        del payload["alerts"][0]["fingerprint"]
        key = parse_alertmanager(payload)[0].key
        assert key == "alertname=DiskFull,instance=db01:9100,service=db,severity=critical"

    def test_title_falls_back_to_alertname_and_instance(self) -> None:
        payload = am_firing()
        payload["alerts"][0]["annotations"] = {}
        assert parse_alertmanager(payload)[0].title == "DiskFull on db01:9100"

    @pytest.mark.parametrize(
        ("change", "loc"),
        [
            (lambda p: p.update(version="3"), ["body", "version"]),
            (lambda p: p.pop("alerts"), ["body", "alerts"]),
            (lambda p: p["alerts"][0].update(status="burning"), ["body", "alerts", 0, "status"]),
            (lambda p: p["alerts"][0]["labels"].update(x=5), ["body", "alerts", 0, "labels", "x"]),
            (
                lambda p: p["alerts"][0]["labels"].update(x="a\x00b"),
                ["body", "alerts", 0, "labels", "x"],
            ),
            (lambda p: p.update(alerts="nope"), ["body", "alerts"]),
        ],
    )
    def test_malformed_payloads_name_the_field(self, change: Any, loc: list[Any]) -> None:
        payload = am_firing()
        change(payload)
        with pytest.raises(PayloadError) as raised:
            parse_alertmanager(payload)
        assert raised.value.errors[0]["loc"] == loc

    def test_not_an_object(self) -> None:
        with pytest.raises(PayloadError):
            parse_alertmanager([1, 2])


class TestZabbix:
    def test_real_event_driven_ansible_body(self) -> None:
        (alert,) = parse_zabbix(
            fixture("zabbix-6.0.14_event_driven_ansible_mediatype_problem.json")
        )
        assert alert.key == "4711" and alert.status == FIRING
        assert alert.title == "High CPU utilization (over 90% for 5m) on db01"
        assert alert.labels["service"] == "db" and alert.labels["scope"] == "performance"
        assert alert.labels["host"] == "db01" and alert.labels["severity"] == "High"
        assert alert.labels["nseverity"] == "4"
        assert alert.labels["host_groups"] == "Linux servers, Databases"
        assert "CPU utilization is too high" in alert.description
        assert "Current utilization: 97 %" in alert.description

    def test_real_macro_values_all_strings_with_tags_json(self) -> None:
        (alert,) = parse_zabbix(fixture("zabbix_mediatype_params_example.json"))
        assert alert.key == "4711" and alert.status == FIRING
        assert alert.labels["service"] == "db" and alert.labels["scope"] == "performance"

    def test_recovery_by_event_value(self) -> None:
        body = fixture("zabbix_mediatype_params_example.json")
        body["event_value"] = "0"
        assert parse_zabbix(body)[0].status == RESOLVED

    @pytest.mark.parametrize(
        "body",
        [
            {"EVENT.ID": "77", "EVENT.STATUS": "RESOLVED", "EVENT.NAME": "Link down"},
            {"eventid": 77, "event_recovery_id": "80", "event_name": "Link down"},
            {"event_id": "77", "status": "OK", "subject": "Resolved: Link down"},
        ],
    )
    def test_recovery_in_other_shapes(self, body: dict[str, Any]) -> None:
        (alert,) = parse_zabbix(body)
        assert alert.key == "77" and alert.status == RESOLVED

    def test_unexpanded_macros_count_as_absent(self) -> None:
        (alert,) = parse_zabbix({"event_id": "9", "event_value": "1", "event_name": "Disk",
                                 "event_recovery_id": "{EVENT.RECOVERY.ID}",
                                 "host_name": "{HOST.NAME}"})  # fmt: skip
        assert alert.status == FIRING and alert.title == "Disk" and "host" not in alert.labels

    @pytest.mark.parametrize(
        ("tags", "expected"),
        [
            ("service:db, scope:performance", {"service": "db", "scope": "performance"}),
            ([{"tag": "service", "value": "db"}], {"service": "db"}),
            (json.dumps([{"tag": "a", "value": "1"}, {"tag": "a", "value": "2"}]), {"a": "1,2"}),
            ({"service": ["db", "erp"]}, {"service": "db,erp"}),
        ],
    )
    def test_tag_shapes(self, tags: Any, expected: dict[str, str]) -> None:
        labels = parse_zabbix({"event_id": 1, "event_value": 1, "event_tags": tags})[0].labels
        assert {k: labels[k] for k in expected} == expected

    def test_severity_name_from_number(self) -> None:
        labels = parse_zabbix({"event_id": 1, "event_nseverity": "5"})[0].labels
        assert labels["severity"] == "Disaster"

    @pytest.mark.parametrize(
        ("body", "loc"),
        [
            ({"event_name": "no id"}, ["body", "event_id"]),
            ({"event_id": "1", "event_value": "7"}, ["body", "event_value"]),
            (["a"], ["body"]),
        ],
    )
    def test_malformed(self, body: Any, loc: list[str]) -> None:
        with pytest.raises(PayloadError) as raised:
            parse_zabbix(body)
        assert raised.value.errors[0]["loc"] == loc


class TestGrafana:
    def test_unified_alerting(self) -> None:
        (alert,) = parse_grafana(fixture("grafana-unified_firing.json"))
        assert alert.key == "5f0c2f6a9e1d7b44" and alert.status == FIRING
        assert alert.title == "Uplink of core-router-01 will saturate within two hours"
        assert alert.source_url == "http://grafana.local/d/net01?viewPanel=4"
        assert "A=91.4" in alert.description or "value=91.4" in alert.description
        (resolved,) = parse_grafana(fixture("grafana-unified_resolved.json"))
        assert resolved.key == alert.key and resolved.status == RESOLVED

    def test_legacy_dashboard_alert(self) -> None:
        body = {"ruleId": 3, "ruleName": "Queue length", "state": "alerting",
                "title": "[Alerting] Queue length", "message": "Mail queue grows",
                "tags": {"service": "mail"}, "evalMatches": [{"value": 120}]}  # fmt: skip
        (alert,) = parse_grafana(body)
        assert alert.key == "rule:3" and alert.status == FIRING
        assert alert.labels == {"alertname": "Queue length", "service": "mail"}
        body["state"] = "ok"
        assert parse_grafana(body)[0].status == RESOLVED


class TestGeneric:
    def test_minimal(self) -> None:
        (alert,) = parse_generic({"key": "db01/disk", "title": "Disk full"})
        assert alert.key == "db01/disk" and alert.status == FIRING and alert.title == "Disk full"

    @pytest.mark.parametrize(
        ("body", "loc"),
        [
            ({"title": "no key"}, ["body", "key"]),
            ({"key": "k"}, ["body", "title"]),
            ({"key": "k", "title": "t", "colour": "red"}, ["body", "colour"]),
            ({"key": "k", "title": "t", "severity": 0}, ["body", "severity"]),
            ({"key": "k", "title": "t", "affected_users": -1}, ["body", "affected_users"]),
        ],
    )
    def test_strict(self, body: dict[str, Any], loc: list[str]) -> None:
        with pytest.raises(PayloadError) as raised:
            parse_generic(body)
        assert raised.value.errors[0]["loc"] == loc

    def test_resolved_needs_no_title(self) -> None:
        assert parse_generic({"key": "k", "status": "resolved"})[0].status == RESOLVED


def test_long_keys_are_digested() -> None:
    assert short_key("x" * 50) == "x" * 50
    long = short_key("x" * 500)
    assert long.startswith("sha256:") and len(long) <= 200 and long == short_key("x" * 500)
