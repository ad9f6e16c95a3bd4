"""The self-service portal: report, follow own incidents, comment, confirm and rate."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from servicedesk.incidents import services
from servicedesk.incidents.models import Comment, Incident, Source, Status
from servicedesk.testing.org import Org

pytestmark = pytest.mark.django_db


def test_report_and_follow(org: Org, browser: Callable[..., Client]) -> None:
    page = browser(org.reporter)
    response = page.post("/portal/new/", {"title": "Printer jams", "description": "Every page",
                                          "affected_users": 3, "contact_phone": ""})  # fmt: skip
    incident = Incident.objects.get()
    assert response["Location"] == f"/portal/incidents/{incident.pk}/"
    assert (incident.source, incident.reporter, incident.severity) == (
        Source.PORTAL,
        org.reporter,
        3,
    )
    html = page.get("/portal/").content.decode()
    assert incident.number in html and "Printer jams" in html


def test_only_own_incidents(org: Org, browser: Callable[..., Client],
                            incident_for: Callable[..., Incident]) -> None:  # fmt: skip
    theirs = incident_for(reporter=org.reporter2)
    page = browser(org.reporter)
    assert page.get(f"/portal/incidents/{theirs.pk}/").status_code == 404
    assert (
        page.post(f"/portal/incidents/{theirs.pk}/comment/", {"comment-body": "hi"}).status_code
        == 404
    )
    assert theirs.number not in page.get("/portal/").content.decode()


def test_comment_is_public_and_internal_notes_stay_hidden(
    org: Org, browser: Callable[..., Client], incident_for: Callable[..., Incident]
) -> None:
    incident = incident_for()
    services.do_add_comment(
        incident=incident, actor=org.desk_agent, body="Secret note", public=False
    )
    services.do_add_comment(
        incident=incident, actor=org.desk_agent, body="We called you", public=True
    )
    page = browser(org.reporter)
    page.post(f"/portal/incidents/{incident.pk}/comment/", {"comment-body": "Thanks!"})
    assert Comment.objects.get(body="Thanks!").public is True
    html = page.get(f"/portal/incidents/{incident.pk}/").content.decode()
    assert "We called you" in html and "Thanks!" in html and "Secret note" not in html


def test_confirm_and_rate(org: Org, browser: Callable[..., Client],
                          incident_for: Callable[..., Incident]) -> None:  # fmt: skip
    incident = incident_for()
    services.do_resolve(incident=incident, actor=org.desk_agent, resolution_code="other",
                        resolution="Replaced the cable")  # fmt: skip
    page = browser(org.reporter)
    html = page.get(f"/portal/incidents/{incident.pk}/").content.decode()
    assert "Is it working again?" in html and "Replaced the cable" in html
    incident.refresh_from_db()
    page.post(f"/portal/incidents/{incident.pk}/close/",
              {"close-satisfaction": "4", "close-comment": "Quick", "close-version": incident.version})  # fmt: skip
    incident.refresh_from_db()
    assert (incident.status, incident.satisfaction, incident.satisfaction_comment) == (
        Status.CLOSED, 4, "Quick")  # fmt: skip


def test_reject_the_resolution(org: Org, browser: Callable[..., Client],
                               incident_for: Callable[..., Incident]) -> None:  # fmt: skip
    incident = incident_for()
    services.do_resolve(incident=incident, actor=org.desk_agent, resolution_code="other",
                        resolution="x")  # fmt: skip
    page = browser(org.reporter)
    response = page.post(f"/portal/incidents/{incident.pk}/reopen/", {"reopen-reason": ""})
    assert response.status_code == 422 and "reason" in response.context["forms"]["reopen"].errors
    page.post(f"/portal/incidents/{incident.pk}/reopen/", {"reopen-reason": "Still no mail"})
    incident.refresh_from_db()
    assert incident.status == Status.IN_PROGRESS


def test_withdraw(org: Org, browser: Callable[..., Client],
                  incident_for: Callable[..., Incident]) -> None:  # fmt: skip
    incident = incident_for()
    browser(org.reporter).post(f"/portal/incidents/{incident.pk}/cancel/")
    incident.refresh_from_db()
    assert incident.status == Status.CANCELLED


def test_closed_incident_takes_no_comment(org: Org, browser: Callable[..., Client],
                                          incident_for: Callable[..., Incident]) -> None:  # fmt: skip
    incident = incident_for()
    services.do_cancel(incident=incident, actor=org.reporter)
    response = browser(org.reporter).post(f"/portal/incidents/{incident.pk}/comment/",
                                           {"comment-body": "hello?"})  # fmt: skip
    assert response.status_code == 422
    assert "The incident is closed; report a new one." in response.content.decode()
