"""Demo intake: an Alertmanager and a Zabbix integration with mapping rules, a mailbox,
and one open alert from each monitor. Idempotent.

The demo tokens are fixed and documented (like the demo password) so that the
curl examples of docs/intake.md work against `make run`; never use them elsewhere.
"""

from __future__ import annotations

from typing import Any

from servicedesk.integrations import services
from servicedesk.integrations.intake.payloads import parse_alertmanager, parse_zabbix
from servicedesk.integrations.models import AlertGroup, Integration, MappingRule

DEMO_TOKENS = {
    "Prometheus Alertmanager": "sdi_demo-alertmanager-token-0001",
    "Zabbix": "sdi_demo-zabbix-token-0001",
}


def _integration(kind: str, name: str, **options: Any) -> Integration:
    existing = Integration.objects.filter(name=name).first()
    if existing is not None:
        return existing
    integration, _ = services.do_create_integration(actor=None, kind=kind, name=name, **options)
    if name in DEMO_TOKENS:
        services.do_rotate_token(integration=integration, actor=None, raw=DEMO_TOKENS[name])
    return integration


def _rules(integration: Integration, rules: list[dict[str, Any]]) -> None:
    if integration.rules.exists():
        return
    for position, rule in enumerate(rules, start=1):
        MappingRule.objects.create(integration=integration, position=position, **rule)


def load(org: Any) -> None:
    am = _integration("alertmanager", "Prometheus Alertmanager")
    _rules(am, [
        {"name": "Database hosts", "match": {"service": "db|dwh"},
         "service": org.services["Reporting database"], "category": org.categories["Capacity"]},
        {"name": "ERP", "match": {"job": "erp.*"}, "service": org.services["ERP"]},
        {"name": "Host is the CI", "ci_label": "instance"},
        {"name": "Paging alerts", "match": {"severity": "page"}, "severity": 2},
        {"name": "Title", "title_template": '[{{ labels.severity|default:"alert" }}] {{ title }}'},
    ])  # fmt: skip
    zabbix = _integration("zabbix", "Zabbix", on_resolved="resolve")
    _rules(zabbix, [
        {"name": "Host is the CI", "ci_label": "host"},
        {"name": "ERP database", "match": {"service": "erp"}, "service": org.services["ERP"]},
        {"name": "High and disaster", "match": {"nseverity": "[45]"}, "affected_users": 0,
         "severity": 3},
        {"name": "Network", "match": {"host_groups": ".*Network.*"},
         "technology": org.technologies["network"]},
    ])  # fmt: skip
    _integration("email", "Service desk mailbox", mailbox_address="servicedesk@example.com")

    if not AlertGroup.objects.filter(integration=am).exists():
        services.do_ingest_alerts(integration=am, alerts=parse_alertmanager({
            "version": "4", "status": "firing", "receiver": "servicedesk", "alerts": [{
                "status": "firing", "fingerprint": "d3m0d15kfu11dwh1",
                "labels": {"alertname": "DiskFull", "instance": "dwh-01:9100", "service": "dwh",
                           "severity": "warning"},
                "annotations": {"summary": "Disk /data on dwh-01 is 92% full"},
                "startsAt": "2026-01-01T00:00:00Z", "generatorURL": "http://prometheus:9090/graph",
            }],
        }))  # fmt: skip
    if not AlertGroup.objects.filter(integration=zabbix).exists():
        services.do_ingest_alerts(integration=zabbix, alerts=parse_zabbix({
            "event_id": "900001", "event_value": "1", "event_nseverity": "4",
            "event_severity": "High", "event_name": "High CPU utilization (over 90% for 5m)",
            "host_host": "erp-db-01", "host_groups": "Databases",
            "event_tags": [{"tag": "service", "value": "erp"}],
            "operation_data": "Current utilization: 96 %",
        }))  # fmt: skip
