"""Admin pages of problem and error control render, and their changes go through services."""

from __future__ import annotations

import pytest
from django.test import Client

from servicedesk.knownerrors import services as ke_services
from servicedesk.knownerrors.models import KnownError
from servicedesk.problems import services
from servicedesk.problems.models import Problem, ProblemEvent
from servicedesk.testing.org import Org

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(org: Org) -> Client:
    client = Client()
    client.force_login(org.admin)
    return client


PAGES = ["problem", "selectionfactor", "candidate", "problemreview"]
KE_PAGES = ["knownerror", "fixproject"]


def test_pages_render(org: Org, admin_client: Client) -> None:
    problem = services.do_create_problem(
        actor=org.problem_manager, title="Mail delays", service=org.mail
    )
    ke = ke_services.do_create_known_error(actor=org.problem_manager, title="Quota", symptoms="full",
                                           root_cause="quota", workaround="archive")  # fmt: skip
    for page in PAGES:
        assert admin_client.get(f"/admin/problems/{page}/").status_code == 200, page
    for page in KE_PAGES:
        assert admin_client.get(f"/admin/knownerrors/{page}/").status_code == 200, page
    assert admin_client.get(f"/admin/problems/problem/{problem.pk}/change/").status_code == 200
    assert admin_client.get(f"/admin/knownerrors/knownerror/{ke.pk}/change/").status_code == 200


def test_admin_changes_use_services(org: Org, admin_client: Client) -> None:
    problem = services.do_create_problem(
        actor=org.problem_manager, title="Mail delays", service=org.mail
    )
    response = admin_client.post(
        "/admin/problems/problem/",
        {"action": "start_investigation", "_selected_action": [problem.pk]},
    )
    assert response.status_code == 302
    problem.refresh_from_db()
    assert problem.status == "under_investigation"
    assert ProblemEvent.objects.filter(
        problem=problem, type="status_changed", actor=org.admin
    ).exists()
    ke = ke_services.do_create_known_error(actor=org.problem_manager, title="Quota", symptoms="full",
                                           root_cause="quota", workaround="archive", audience="unpublished")  # fmt: skip
    admin_client.post("/admin/knownerrors/knownerror/",
                      {"action": "publish_support", "_selected_action": [ke.pk]})  # fmt: skip
    ke.refresh_from_db()
    assert ke.audience == "support" and ke.search_text
    assert not Problem.objects.filter(pk=problem.pk, status="new").exists()
    assert KnownError.objects.get(pk=ke.pk).events.filter(type="workaround_published").exists()
