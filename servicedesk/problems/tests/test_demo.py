"""The demo data of problem and error control: every state, matching demo incidents, idempotent."""

from __future__ import annotations

import pytest

from servicedesk.core import demo
from servicedesk.knownerrors import search
from servicedesk.knownerrors.models import FixProject, KnownError
from servicedesk.problems.models import Problem, Status

pytestmark = pytest.mark.django_db


def test_demo_problems_known_errors_and_fix_projects() -> None:
    demo.build()
    counts = (Problem.objects.count(), KnownError.objects.count(), FixProject.objects.count())
    statuses = set(Problem.objects.values_list("status", flat=True))
    assert statuses == {s.value for s in Status}
    assert set(FixProject.objects.values_list("status", flat=True)) >= {
        "proposed",
        "in_progress",
        "implemented",
    }
    found = search.match(search.Query(text="mailbox quota exceeded"))
    assert found and "quota" in found[0].known_error.title.lower()
    ru = search.match(search.Query(text="ошибка E-1042 при выгрузке зарплаты"))
    assert ru and "Payroll" in ru[0].known_error.title
    vpn = Problem.objects.get(title="VPN gateway drops remote sessions")
    assert vpn.support_level == 3 and vpn.ishikawa.exists() and vpn.whys.count() == 4
    demo.build()  # idempotent
    assert (
        Problem.objects.count(),
        KnownError.objects.count(),
        FixProject.objects.count(),
    ) == counts
