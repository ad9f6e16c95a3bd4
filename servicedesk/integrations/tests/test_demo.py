"""The demo's intake: integrations with rules, and alerts mapped by them. Idempotent."""

from __future__ import annotations

import pytest

from servicedesk.core.demo import build_organisation
from servicedesk.incidents.models import Incident
from servicedesk.integrations import demo, services
from servicedesk.integrations.models import AlertGroup, Integration

pytestmark = pytest.mark.django_db


def test_demo_intake_is_built_once() -> None:
    org = build_organisation()
    demo.load(org)
    demo.load(org)
    assert set(Integration.objects.values_list("name", flat=True)) == {
        "Prometheus Alertmanager", "Zabbix", "Service desk mailbox"}  # fmt: skip
    assert AlertGroup.objects.count() == 2 and Incident.objects.count() == 2
    disk = Incident.objects.get(external_ref__startswith="alertmanager:")
    assert disk.title == "[warning] Disk /data on dwh-01 is 92% full"
    assert disk.configuration_item == org.cis["dwh-01"]
    assert disk.service == org.services["Reporting database"] and disk.severity == 4
    cpu = Incident.objects.get(external_ref__startswith="zabbix:")
    assert cpu.configuration_item == org.cis["erp-db-01"] and cpu.service == org.services["ERP"]
    assert cpu.severity == 3 and cpu.affected_users == 0
    for name, token in demo.DEMO_TOKENS.items():
        found = services.authenticate(token)
        assert found is not None and found.name == name
