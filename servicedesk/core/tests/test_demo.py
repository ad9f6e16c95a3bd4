"""`servicedesk demo` builds a believable organisation, once."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from servicedesk.accounts.models import Role, SupportGroup, User
from servicedesk.accounts.services import manager_chain
from servicedesk.incidents.models import Incident, Status

pytestmark = pytest.mark.django_db


def test_demo_is_complete_and_idempotent() -> None:
    call_command("demo", verbosity=0)
    counts = (User.objects.count(), SupportGroup.objects.count(), Incident.objects.count())
    call_command("demo", verbosity=0)
    assert (User.objects.count(), SupportGroup.objects.count(), Incident.objects.count()) == counts
    assert counts[2] >= 36
    assert set(Incident.objects.values_list("status", flat=True)) == set(Status.values)
    assert set(SupportGroup.objects.values_list("level", flat=True)) == {1, 2, 3}
    network = SupportGroup.objects.get(name="Network Engineering")
    chain = [u.username for u in manager_chain(technology_id=network.technology_id)]
    assert chain == ["neteng.mgr", "eng.head", "cio"]
    people = User.objects.filter(is_active=True)  # integrations act through inactive system users
    assert not people.filter(email="").exists()
    assert not people.filter(phone="").exists()
    assert people.filter(role=Role.END_USER, user_group__isnull=True).count() == 0
