"""The pages of communications through Django's client: the user's in-app
notifications (unread count badge, list, mark read) and the incident page's
panel (watchers, status updates, action requests)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from servicedesk.accounts.models import User
from servicedesk.incidents import services as incidents
from servicedesk.incidents.models import Incident, IncidentEvent
from servicedesk.notifications import services
from servicedesk.notifications.models import (
    ActionRequest,
    ActionState,
    MessageKind,
    Notification,
    Watcher,
)
from servicedesk.testing.org import Org

from .conftest import run_worker

pytestmark = pytest.mark.django_db

HTMX_PANEL = {"HX-Request": "true", "HX-Target": "communications-panel"}
HTMX_LIST = {"HX-Request": "true", "HX-Target": "notifications"}


def browser(user: User, language: str = "en") -> Client:
    client = Client(headers={"accept-language": language})
    client.force_login(user)
    return client


def html(response: Any) -> str:
    return str(response.content.decode())


def note(user: User, title: str, **kw: Any) -> Notification:
    """An in-app notification as the "inapp" channel writes it."""
    kw.setdefault("created_at", timezone.now())
    return Notification.objects.create(user=user, message_id=uuid.uuid4(), title=title, **kw)


def check_markup(text: str) -> None:
    assert not re.search(r"\son[a-z]+\s*=", text), "inline event handler"
    assert not re.search(r"\sstyle\s*=", text), "inline style attribute"
    labelled = set(re.findall(r'<label[^>]*\sfor="([^"]+)"', text))
    for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", text):
        if re.search(r'type="(hidden|submit|checkbox)"', tag):
            continue
        control_id = re.search(r'\sid="([^"]+)"', tag)
        assert "aria-label=" in tag or (control_id and control_id.group(1) in labelled), tag


def incident(org: Org, **kw: Any) -> Incident:
    kw.setdefault("title", "Router down")
    kw.setdefault("reporter", org.reporter)
    kw.setdefault("service", org.internet)
    return incidents.do_create_incident(actor=kw.pop("actor", org.desk_agent), **kw)


# ---- the user's notifications ----------------------------------------------------------------


def test_navigation_badge_loads_the_unread_count(org: Org) -> None:
    page = browser(org.reporter)
    text = html(page.get("/portal/"))
    assert 'href="/notifications/"' in text  # end users have notifications too
    assert 'hx-get="/notifications/unread-count/"' in text
    assert page.get("/notifications/unread-count/").content == b""  # none: the badge hides
    note(org.reporter, "INC-000001 resolved")
    note(org.reporter, "INC-000002 resolved")
    note(org.reporter, "old", read_at=timezone.now())
    note(org.desk_agent, "someone else's")
    response = page.get("/notifications/unread-count/")
    assert response.content == b"2" and response["Cache-Control"] == "no-store"


def test_unread_count_query_count_is_pinned(org: Org, django_assert_num_queries: Any) -> None:
    for n in range(5):
        note(org.desk_agent, f"n{n}")
    page = browser(org.desk_agent)
    page.get("/")
    with django_assert_num_queries(3):  # session, user, the count (a partial index)
        assert page.get("/notifications/unread-count/").content == b"5"


def test_list_shows_unread_then_all_recent(org: Org) -> None:
    unread = note(org.reporter, "INC-000042: resolved", body="We replaced the cable.",
                  link="http://testserver/portal/incidents/42/", kind=MessageKind.STATUS,
                  sender=org.desk_agent)  # fmt: skip
    read = note(org.reporter, "INC-000041: closed", read_at=timezone.now())
    action = note(org.reporter, "INC-000043: please confirm", kind=MessageKind.ACTION)
    note(org.desk_agent, "INC-000044: assigned to you")
    page = browser(org.reporter)
    response = page.get("/notifications/")
    assert response.status_code == 200
    text = html(response)
    check_markup(text)
    assert unread.title in text and action.title in text and read.title not in text
    assert "INC-000044" not in text  # only the user's own
    assert (
        "We replaced the cable." in text and 'href="http://testserver/portal/incidents/42/"' in text
    )
    assert text.index(action.title) < text.index(unread.title)  # newest first
    assert "action requested" in text and str(org.desk_agent) in text
    assert 'aria-current="page">Notifications' in text
    everything = html(page.get("/notifications/", {"show": "all"}))
    assert read.title in everything and unread.title in everything


def test_mark_one_read_with_htmx_refreshes_the_list_and_the_badge(org: Org) -> None:
    first = note(org.reporter, "INC-000001: resolved")
    second = note(org.reporter, "INC-000002: resolved")
    page = browser(org.reporter)
    response = page.post(f"/notifications/{first.pk}/read/", headers=HTMX_LIST)
    assert response.status_code == 200 and response["HX-Trigger"] == "sd-badges"
    text = html(response)
    assert text.startswith('<section id="notifications"')
    assert second.title in text and first.title not in text
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.read_at is not None and second.read_at is None


def test_mark_all_read_without_htmx(org: Org) -> None:
    for n in range(3):
        note(org.reporter, f"INC-00000{n}: resolved")
    theirs = note(org.desk_agent, "INC-000009: assigned")
    page = browser(org.reporter)
    response = page.post("/notifications/read/", {"show": "all"})
    assert response.status_code == 302 and response["Location"] == "/notifications/?show=all"
    assert not Notification.objects.filter(user=org.reporter, read_at__isnull=True).exists()
    theirs.refresh_from_db()
    assert theirs.read_at is None
    assert "All notifications marked read." in html(page.get("/notifications/"))


def test_someone_elses_notification_cannot_be_marked(org: Org) -> None:
    theirs = note(org.desk_agent, "INC-000009: assigned")
    assert browser(org.reporter).post(f"/notifications/{theirs.pk}/read/").status_code == 404
    assert browser(org.reporter).get(f"/notifications/{theirs.pk}/read/").status_code == 405
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_notifications_need_sign_in() -> None:
    response = Client().get("/notifications/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert Client().get("/notifications/unread-count/").status_code == 302


def test_list_query_count_is_pinned(org: Org, django_assert_num_queries: Any) -> None:
    for n in range(20):
        note(org.reporter, f"n{n}", sender=org.desk_agent)
    page = browser(org.reporter)
    page.get("/portal/")
    with django_assert_num_queries(3):  # session, user, the notifications with their senders
        response = page.get("/notifications/")
    assert len(response.context["notifications"]) == 20


# ---- the incident page's panel -----------------------------------------------------------------


def test_incident_page_has_the_panel_loaded_after_the_page(org: Org) -> None:
    case = incident(org)
    text = html(browser(org.desk_agent).get(f"/incidents/{case.pk}/"))
    assert 'id="communications-panel"' in text
    assert f'hx-get="/notifications/incidents/{case.pk}/"' in text


def test_watch_and_stop_watching(org: Org) -> None:
    case = incident(org)
    page = browser(org.net_ops_agent)
    panel = page.get(f"/notifications/incidents/{case.pk}/", headers=HTMX_PANEL)
    assert panel.status_code == 200
    check_markup(html(panel))
    assert "Nobody watches this incident." in html(panel) and ">Watch</button>" in html(panel)
    response = page.post(f"/notifications/incidents/{case.pk}/watch/", {"watch": "1"},
                         headers=HTMX_PANEL)  # fmt: skip
    text = html(response)
    assert response.status_code == 200 and text.startswith('<section class="card communications"')
    assert "You are watching this incident." in text and "Stop watching" in text
    assert str(org.net_ops_agent) in text
    assert Watcher.objects.filter(user=org.net_ops_agent, subject_id=case.pk).exists()
    response = page.post(f"/notifications/incidents/{case.pk}/watch/", {"watch": "0"})
    assert response.status_code == 302 and response["Location"] == f"/incidents/{case.pk}/"
    assert not Watcher.objects.exists()


def test_staff_add_and_remove_other_watchers(org: Org) -> None:
    case = incident(org)
    page = browser(org.desk_agent)
    panel = html(page.get(f"/notifications/incidents/{case.pk}/", headers=HTMX_PANEL))
    check_markup(panel)
    options = re.findall(r'<option value="(\d+)">', panel)
    assert str(org.net_ops_manager.pk) in options and str(org.reporter.pk) not in options
    response = page.post(f"/notifications/incidents/{case.pk}/watch/",
                         {"watch": "1", "user": org.net_ops_manager.pk}, headers=HTMX_PANEL)  # fmt: skip
    text = html(response)
    assert response.status_code == 200
    assert f"{org.net_ops_manager} now watches this incident." in text
    assert f'data-watcher="{org.net_ops_manager.pk}"' in text and ">Remove</button>" in text
    # Someone already watching is not offered again; the viewer still may watch.
    assert f'<option value="{org.net_ops_manager.pk}">' not in text and ">Watch</button>" in text
    assert Watcher.objects.filter(user=org.net_ops_manager, subject_id=case.pk).exists()
    response = page.post(f"/notifications/incidents/{case.pk}/watch/",
                         {"watch": "0", "user": org.net_ops_manager.pk}, headers=HTMX_PANEL)  # fmt: skip
    assert response.status_code == 200
    assert f"{org.net_ops_manager} no longer watches this incident." in html(response)
    assert not Watcher.objects.exists()
    for bad in ("abc", "99999999", str(2**40)):
        refused = page.post(f"/notifications/incidents/{case.pk}/watch/",
                            {"watch": "1", "user": bad}, headers=HTMX_PANEL)  # fmt: skip
        assert refused.status_code == 422
        assert "Choose an active person to add or remove." in html(refused)
    assert not Watcher.objects.exists()
    russian = html(browser(org.desk_agent, "ru").get(f"/notifications/incidents/{case.pk}/",
                                                     headers=HTMX_PANEL))  # fmt: skip
    assert "Добавить наблюдателя" in russian


def test_status_update_goes_to_the_stakeholders_and_the_timeline(org: Org) -> None:
    case = incident(org, affected_users=40)  # severity 1 or 2
    assert case.severity <= 2
    services.do_watch(actor=org.net_ops_agent, incident=case)
    page = browser(org.desk_agent)
    panel = html(page.get(f"/notifications/incidents/{case.pk}/", headers=HTMX_PANEL))
    assert "Send a status update" in panel
    response = page.post(
        f"/notifications/incidents/{case.pk}/status-update/",
        {"update-text": "The ISP is replacing the line; back by 14:00.", "update-channels": ["inapp"]},
        headers=HTMX_PANEL,
    )  # fmt: skip
    assert response.status_code == 200
    assert response["HX-Retarget"] == "#incident-main"
    text = html(response)
    assert "Status update sent" in text and "The ISP is replacing the line" in text  # timeline
    event = IncidentEvent.objects.get(incident=case, type="status_update_sent")
    assert event.payload["channels"] == ["inapp"] and event.payload["recipients"] >= 2
    run_worker()
    inbox = html(browser(org.net_ops_agent).get("/notifications/"))
    assert case.number in inbox and "The ISP is replacing the line" in inbox


def test_status_update_errors_stay_in_the_panel(org: Org) -> None:
    severe = incident(org, affected_users=40)
    page = browser(org.desk_agent)
    response = page.post(f"/notifications/incidents/{severe.pk}/status-update/",
                         {"update-text": "", "update-channels": ["email"]}, headers=HTMX_PANEL)  # fmt: skip
    assert response.status_code == 422
    assert 'data-action="status-update" open' in html(
        response
    ) and "This field is required." in html(response)
    minor = incident(org, affected_users=1)
    assert minor.severity > 2
    panel = html(page.get(f"/notifications/incidents/{minor.pk}/", headers=HTMX_PANEL))
    assert "Send a status update" not in panel and "severity 1 to 2" in panel
    response = page.post(f"/notifications/incidents/{minor.pk}/status-update/",
                         {"update-text": "x", "update-channels": ["email"]}, headers=HTMX_PANEL)  # fmt: skip
    assert response.status_code == 422 and "severity 1 to 2" in html(response)
    assert not IncidentEvent.objects.filter(type="status_update_sent").exists()


def test_action_requests_are_listed_and_marked_done(org: Org) -> None:
    case = incident(org)
    incidents.do_escalate(incident=case, actor=org.desk_agent, reason="insufficient_knowledge")
    request = ActionRequest.objects.get(incident=case)
    ops = browser(org.net_ops_agent)
    panel = html(ops.get(f"/notifications/incidents/{case.pk}/", headers=HTMX_PANEL))
    check_markup(panel)
    assert "accept the incident and contact the reporter" in panel.lower()
    assert str(org.net_ops) in panel and ">Done</button>" in panel
    # Someone who may not complete it sees it without the button.
    other = html(browser(org.mail_ops_agent).get(f"/notifications/incidents/{case.pk}/",
                                                 headers=HTMX_PANEL))  # fmt: skip
    assert "accept the incident" in other.lower() and ">Done</button>" not in other
    response = browser(org.mail_ops_agent).post(
        f"/notifications/action-requests/{request.pk}/done/", headers=HTMX_PANEL
    )
    assert response.status_code == 422 and "Only the addressee" in html(response)
    response = ops.post(f"/notifications/action-requests/{request.pk}/done/",
                        {"done-outcome": "called the reporter"}, headers=HTMX_PANEL)  # fmt: skip
    assert response.status_code == 200 and response["HX-Retarget"] == "#incident-main"
    assert "Action request done: Network Operations" in html(response)  # the timeline
    request.refresh_from_db()
    assert request.state == ActionState.DONE and request.outcome == "called the reporter"
    again = ops.post(f"/notifications/action-requests/{request.pk}/done/", headers=HTMX_PANEL)
    assert again.status_code == 422 and "no longer open" in html(again)


def test_panel_is_for_staff(org: Org) -> None:
    case = incident(org)
    response = browser(org.reporter).get(f"/notifications/incidents/{case.pk}/")
    assert response.status_code == 302 and response["Location"] == "/portal/"
    response = browser(org.reporter).post(
        f"/notifications/incidents/{case.pk}/watch/", {"watch": "1"}
    )
    assert response.status_code == 302 and not Watcher.objects.exists()
    assert browser(org.desk_agent).get("/notifications/incidents/999999/").status_code == 404


def test_panel_query_count_is_pinned(org: Org, django_assert_num_queries: Any) -> None:
    case = incident(org)
    incidents.do_escalate(incident=case, actor=org.desk_agent, reason="insufficient_knowledge")
    for user in (org.net_ops_agent, org.desk_agent2, org.problem_manager):
        services.do_watch(actor=user, incident=case)
    page = browser(org.net_ops_agent)
    page.get("/")
    # session, user, incident, watchers with their users, staff who could be
    # added, action requests (with addressees), the user's groups (may they
    # complete it, work the incident?)
    with django_assert_num_queries(7):
        response = page.get(f"/notifications/incidents/{case.pk}/", headers=HTMX_PANEL)
    assert len(response.context["watchers"]) == 3
