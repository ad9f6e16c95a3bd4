"""The demo data of communications loads, and loading it twice adds nothing."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from servicedesk.incidents import services as incidents
from servicedesk.incidents.models import IncidentEvent
from servicedesk.notifications import demo
from servicedesk.notifications.models import NotificationPreference, Watcher
from servicedesk.testing.org import Org

pytestmark = pytest.mark.django_db


def test_load_is_idempotent(org: Org) -> None:
    major = incidents.do_create_incident(
        actor=org.desk_agent, title="Scanners cannot post receipts", reporter=org.reporter,
        affected_users=55, external_ref="DEMO-010",
    )  # fmt: skip
    users = {"netops1": org.net_ops_agent, "ops.head": org.ops_head, "desk4": org.desk_agent}
    for _ in range(2):
        demo.load(SimpleNamespace(users=users))
    assert IncidentEvent.objects.filter(incident=major, type="status_update_sent").count() == 1
    assert Watcher.objects.filter(user=org.ops_head).count() == 1
    assert NotificationPreference.objects.get(user=org.net_ops_agent).work_starts.hour == 7
    org.net_ops_agent.refresh_from_db()
    assert org.net_ops_agent.language == "ru"
