"""The on-call pages through Django's client: who is on call now, a schedule as a
calendar (with an override), open pages and acknowledging one."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from servicedesk.accounts.models import User
from servicedesk.escalation.tests.helpers import T0, at, create, minutes
from servicedesk.incidents.models import IncidentEvent
from servicedesk.oncall import selectors, services
from servicedesk.oncall.models import OnCallSchedule, Page, PageState
from servicedesk.oncall.rotation import Layer, Override, Rotation, Schedule
from servicedesk.oncall.tests.test_paging import net_ops_schedule
from servicedesk.testing.factories import SupportGroupFactory, TechnologyFactory
from servicedesk.testing.org import Org

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true", "HX-Target": "pages"}


@pytest.fixture
def browser() -> Callable[..., Client]:
    def make(user: User, language: str = "en") -> Client:
        client = Client(headers={"accept-language": language})
        client.force_login(user)
        return client

    return make


def with_override(org: Org) -> OnCallSchedule:
    """Network Operations (weekly, Monday 09:00 UTC, with a secondary layer); the
    desk agent covers the primary on Monday 10 March 14:00-16:00 UTC."""
    org.net_ops_agent.phone = "+7 495 111-22-33"
    org.net_ops_agent.save()
    org.problem_manager.phone = "+7 495 444-55-66"
    org.problem_manager.save()
    schedule = net_ops_schedule(org, secondary=True)
    services.do_add_override(
        actor=org.net_ops_manager, schedule=schedule, person=org.desk_agent,
        starts_at=T0.replace(hour=14), ends_at=T0.replace(hour=16), reason="dentist swap",
    )  # fmt: skip
    return schedule


def row_of(html: str, group_id: int) -> str:
    match = re.search(rf'<tr data-group="{group_id}">(.*?)</tr>', html, re.S)
    assert match, f"no row for group {group_id}"
    return match.group(1)


class TestWhoIsOnCall:
    def test_primary_and_next_responders_as_the_schedule_says(
        self, org: Org, browser: Callable[..., Client]
    ) -> None:
        with_override(org)
        page = browser(org.desk_agent)
        for moment, expected in [
            # week 2 started at 09:00: the problem manager is primary, the agent second
            (T0.replace(hour=10), [org.problem_manager, org.net_ops_agent]),
            # the override replaces the primary layer's person
            (T0.replace(hour=15), [org.desk_agent, org.net_ops_agent]),
            # before Monday's hand-off: still week 1
            (T0.replace(hour=8), [org.net_ops_agent, org.problem_manager]),
        ]:
            with at(moment):
                response = page.get("/oncall/")
            assert response.status_code == 200
            row = row_of(response.content.decode(), org.net_ops.pk)
            names = re.findall(r"<strong>([^<]+)</strong>", row)
            service = [r.person for r in selectors.responders(org.net_ops, moment)]
            assert service == [*expected, org.net_ops_manager]  # the service's own answer
            assert names == [str(p) for p in service]  # the page shows it, in paging order
        # phones of the people on call; the override is marked
        assert "+7 495 111-22-33" in row and "+7 495 444-55-66" in row
        with at(T0.replace(hour=15)):
            row = row_of(page.get("/oncall/").content.decode(), org.net_ops.pk)
        assert "tag-override" in row and "dentist" not in row
        assert re.search(r'<time datetime="2025-03-10T16:00:00\+00:00">', row)  # until the end

    def test_grouped_by_technology_and_groups_without_schedule(
        self, org: Org, browser: Callable[..., Client]
    ) -> None:
        with_override(org)
        with at(T0):
            response = browser(org.desk_agent).get("/oncall/")
        sections = response.context["sections"]
        assert [s.name for s in sections] == ["All technologies", "E-mail", "Network"]
        assert [r.group for r in sections[2].rows] == [org.net_ops, org.net_eng]
        eng = sections[2].rows[1]
        assert eng.schedule_id is None and eng.primary is None
        assert eng.manager is not None and eng.manager.person == org.net_eng_manager
        row = row_of(response.content.decode(), org.net_eng.pk)
        assert "no schedule: pages go to the manager" in row

    def test_query_count_does_not_grow_with_groups(
        self, org: Org, browser: Callable[..., Client], django_assert_num_queries: Any
    ) -> None:
        with_override(org)
        page = browser(org.desk_agent)
        page.get("/")
        # session, user, groups, schedules, layers, members, overrides, people, schedule ids
        with at(T0), django_assert_num_queries(9):
            page.get("/oncall/")
        for n in range(5):
            tech = TechnologyFactory.create(name=f"Tech {n}", slug=f"tech-{n}")
            group = SupportGroupFactory.create(
                name=f"Ops {n}", level=2, technology=tech, manager=org.ops_head,
                members=[org.mail_ops_agent],
            )  # fmt: skip
            services.do_create_schedule(actor=org.admin, group=group, layers=[
                services.LayerInput(name="primary", members=[org.mail_ops_agent, org.net_ops_agent],
                                    starts_on=date(2025, 3, 3)),
            ])  # fmt: skip
        with at(T0), django_assert_num_queries(9):
            response = page.get("/oncall/")
        assert len(response.context["sections"]) == 8


MOSCOW = ZoneInfo("Europe/Moscow")


def periods(response: Any, day: str, tz: ZoneInfo = MOSCOW) -> list[tuple[str, str, str, bool]]:
    """(start, end, primary, override) of each period of a calendar day (the
    reader's local times)."""
    for week in response.context["weeks"]:
        for d in week:
            if d.day.isoformat() == day:
                return [
                    (
                        f"{p.start.astimezone(tz):%H:%M}",
                        "24:00" if p.ends_at_midnight else f"{p.end.astimezone(tz):%H:%M}",
                        str(p.primary.person) if p.primary else "",
                        p.override,
                    )
                    for p in d.periods
                ]
    raise AssertionError(f"{day} is not shown")


class TestCalendar:
    def test_week_in_the_readers_time_zone_with_the_override(
        self, org: Org, browser: Callable[..., Client]
    ) -> None:
        schedule = with_override(org)
        org.desk_agent.time_zone = "Europe/Moscow"
        org.desk_agent.save()
        page = browser(org.desk_agent)
        with at(T0):
            response = page.get(f"/oncall/schedules/{schedule.pk}/")
        assert response.status_code == 200
        days = [d.day for week in response.context["weeks"] for d in week]
        assert days == [date(2025, 3, 10) + timedelta(days=i) for i in range(7)]
        agent, pm, desk = str(org.net_ops_agent), str(org.problem_manager), str(org.desk_agent)
        # The hand-off is 09:00 UTC = 12:00 in Moscow; the override 17:00-19:00 Moscow.
        assert periods(response, "2025-03-10") == [
            ("00:00", "12:00", agent, False), ("12:00", "17:00", pm, False),
            ("17:00", "19:00", desk, True), ("19:00", "24:00", pm, False),
        ]  # fmt: skip
        assert periods(response, "2025-03-11") == [("00:00", "24:00", pm, False)]
        # every period's primary is who the service says is on call at its start
        for week in response.context["weeks"]:
            for d in week:
                for p in d.periods:
                    assert p.primary is not None
                    assert p.primary.person == selectors.on_call_person(org.net_ops, p.start)
        html = response.content.decode()
        assert html.count("oc-has-override") == 1 and "dentist swap" in html
        assert "Days and times in Europe/Moscow" in html
        assert '?view=week&amp;date=2025-03-03"' in html  # previous week
        assert '?view=week&amp;date=2025-03-17"' in html  # next week
        # next week: the override is gone, the agent is primary from Monday 12:00
        with at(T0):
            response = page.get(f"/oncall/schedules/{schedule.pk}/?view=week&date=2025-03-17")
        assert periods(response, "2025-03-17") == [("00:00", "12:00", pm, False),
                                                   ("12:00", "24:00", agent, False)]  # fmt: skip
        assert "oc-has-override" not in response.content.decode()

    def test_month_grid(self, org: Org, browser: Callable[..., Client]) -> None:
        schedule = with_override(org)
        with at(T0):
            response = browser(org.desk_agent).get(
                f"/oncall/schedules/{schedule.pk}/?view=month&date=2025-03-20"
            )
        weeks = response.context["weeks"]
        # March 2025 starts on a Saturday: Monday 24 Feb to Sunday 6 April
        assert weeks[0][0].day == date(2025, 2, 24) and weeks[-1][-1].day == date(2025, 4, 6)
        assert all(len(w) == 7 for w in weeks)
        inside = [d.day for w in weeks for d in w if d.in_range]
        assert inside[0] == date(2025, 3, 1) and inside[-1] == date(2025, 3, 31)
        html = response.content.decode()
        assert (
            '?view=month&amp;date=2025-02-01"' in html
            and '?view=month&amp;date=2025-04-01"' in html
        )
        assert "March 2025" in html

    def test_bad_parameters_and_missing_schedule(
        self, org: Org, browser: Callable[..., Client]
    ) -> None:
        schedule = with_override(org)
        page = browser(org.desk_agent)
        with at(T0):
            response = page.get(f"/oncall/schedules/{schedule.pk}/?view=year&date=yesterday")
        assert response.status_code == 200 and response.context["view"] == "week"
        assert response.context["first"] == date(2025, 3, 10)
        assert page.get("/oncall/schedules/999999/").status_code == 404

    def test_query_count_is_pinned(
        self, org: Org, browser: Callable[..., Client], django_assert_num_queries: Any
    ) -> None:
        schedule = with_override(org)
        page = browser(org.desk_agent)
        page.get("/")
        # session, user, schedule, layers, members, overrides (spec), people,
        # overrides (list), layers' members, layers (list)
        with at(T0), django_assert_num_queries(10):
            page.get(f"/oncall/schedules/{schedule.pk}/?view=month")


def test_coverage_agrees_with_who_is_on_call() -> None:
    """The calendar's periods (the rotation module's coverage) name, for every
    moment, the responders that ``Schedule.responders`` names."""
    rot = Rotation(time_zone="Europe/Berlin", start=datetime(2025, 3, 24, 9, 0),
                   length=timedelta(days=1), members=(1, 2, 3))  # fmt: skip
    spec = Schedule(
        layers=(Layer(1, "primary", rot), Layer(2, "backup", Rotation(
            time_zone="UTC", start=datetime(2025, 3, 24), length=timedelta(days=7), members=(4, 5)))),
        overrides=(Override(9, datetime(2025, 3, 30, 0, 30, tzinfo=UTC),
                            datetime(2025, 3, 30, 3, 0, tzinfo=UTC)),),
        manager=7,
    )  # fmt: skip
    start = datetime(2025, 3, 28, tzinfo=UTC)  # Berlin changes to summer time on the 30th
    end = start + timedelta(days=5)
    cuts = [start + timedelta(hours=h) for h in range(0, 120, 24)]
    covers = spec.coverage(start, end, cuts)
    assert covers[0].start == start and covers[-1].end == end
    for a, b in pairwise(covers):
        assert a.end == b.start
    for cover in covers:
        for moment in (cover.start, cover.end - timedelta(seconds=1)):
            expected = [r.person for r in spec.responders(moment) if r.source != "manager"]
            assert [r.person for r in cover.responders] == expected
    assert set(cuts[1:]) <= {c.start for c in covers}
    hand_offs = {c.start for c in covers if c.start not in cuts}
    # 09:00 Berlin: 08:00 UTC before the change, 07:00 UTC after it; the override
    assert datetime(2025, 3, 29, 8, 0, tzinfo=UTC) in hand_offs
    assert datetime(2025, 3, 31, 7, 0, tzinfo=UTC) in hand_offs
    assert datetime(2025, 3, 30, 0, 30, tzinfo=UTC) in hand_offs


class TestPages:
    def test_acknowledge_my_page_through_the_page(
        self, org: Org, browser: Callable[..., Client]
    ) -> None:
        with_override(org)
        incident = create(org, T0.replace(hour=8))
        with at(T0.replace(hour=8)):
            page = services.do_page(incident=incident, group=org.net_ops, actor=org.desk_agent,
                                    ack_within=300)  # fmt: skip
        assert page.person == org.net_ops_agent
        agent = browser(org.net_ops_agent)
        with at(T0.replace(hour=8, minute=1)):
            response = agent.get("/oncall/pages/")
        assert response.status_code == 200
        assert response.context["mine"] == [page]
        html = response.content.decode()
        assert f'action="/oncall/pages/{page.pk}/acknowledge/"' in html
        assert incident.number in html
        # someone else sees it, without the button
        other = browser(org.desk_agent2).get("/oncall/pages/")
        assert other.context["mine"] == [] and "/acknowledge/" not in other.content.decode()
        with at(T0.replace(hour=8, minute=2)):
            response = agent.post(f"/oncall/pages/{page.pk}/acknowledge/", headers=HTMX)
        assert response.status_code == 200
        body = response.content.decode()
        assert body.startswith('<div id="pages"') and f"Acknowledged {incident.number}." in body
        page.refresh_from_db()
        assert page.state == PageState.ACKNOWLEDGED and page.acknowledged_by == org.net_ops_agent
        assert page.acknowledged_at == T0.replace(hour=8, minute=2)
        assert IncidentEvent.objects.filter(incident=incident, type="page_acknowledged").exists()
        assert response.context["mine"] == [] and response.context["sections"][2][1] == [page]

    def test_refused_and_repeated_acknowledgements(
        self, org: Org, browser: Callable[..., Client]
    ) -> None:
        with_override(org)
        incident = create(org, T0.replace(hour=8))
        with at(T0.replace(hour=8)):
            page = services.do_page(incident=incident, group=org.net_ops, actor=None,
                                    ack_within=300)  # fmt: skip
        stranger = browser(org.mail_ops_agent)  # neither a responder nor in the group
        response = stranger.post(f"/oncall/pages/{page.pk}/acknowledge/", headers=HTMX)
        assert response.status_code == 422
        assert (
            "Only the group&#x27;s responders may acknowledge this page."
            in response.content.decode()
        )
        assert Page.objects.get(pk=page.pk).state == PageState.PAGING
        # without htmx: back to the list, with the reason
        response = stranger.post(f"/oncall/pages/{page.pk}/acknowledge/", follow=True)
        assert response.redirect_chain == [("/oncall/pages/", 302)]
        assert "Only the group" in response.content.decode()
        with at(T0.replace(hour=8, minute=20)):
            services.cancel_pages(incident)
        response = browser(org.net_ops_agent).post(
            f"/oncall/pages/{page.pk}/acknowledge/", headers=HTMX
        )
        assert response.status_code == 422
        assert "no longer waiting" in response.content.decode()
        assert (
            browser(org.net_ops_agent).post("/oncall/pages/999999/acknowledge/").status_code == 404
        )
        assert (
            browser(org.net_ops_agent).get(f"/oncall/pages/{page.pk}/acknowledge/").status_code
            == 405
        )

    def test_pages_query_count_is_pinned(
        self, org: Org, browser: Callable[..., Client], django_assert_num_queries: Any
    ) -> None:
        with_override(org)
        for n in range(6):
            incident = create(org, T0.replace(hour=8), title=f"Router {n} down")
            with at(T0.replace(hour=8)):
                services.do_page(incident=incident, group=org.net_ops, actor=None, ack_within=300)
        page = browser(org.net_ops_agent)
        page.get("/")
        with at(T0.replace(hour=8, minute=1)), django_assert_num_queries(4):
            response = page.get("/oncall/pages/")  # session, user, open pages, recent pages
        assert len(response.context["mine"]) == 6


class TestPermissionsAndNavigation:
    def test_staff_only(self, org: Org, client: Client, browser: Callable[..., Client]) -> None:
        schedule = with_override(org)
        for path in ("/oncall/", f"/oncall/schedules/{schedule.pk}/", "/oncall/pages/"):
            assert client.get(path)["Location"].startswith("/accounts/login/")
            assert browser(org.reporter).get(path)["Location"] == "/portal/"
        response = browser(org.reporter).post("/oncall/pages/1/acknowledge/")
        assert response["Location"] == "/portal/"

    def test_nav_link_for_staff(self, org: Org, browser: Callable[..., Client]) -> None:
        html = browser(org.desk_agent).get("/oncall/").content.decode()
        assert re.search(r'<a href="/oncall/" aria-current="page">On-call</a>', html)
        assert 'href="/oncall/"' not in browser(org.reporter).get("/portal/").content.decode()

    def test_russian(self, org: Org, browser: Callable[..., Client]) -> None:
        response = browser(org.desk_agent, "ru").get("/oncall/")
        assert '<html lang="ru">' in response.content.decode()


def test_timeline_lines_of_paging_events(org: Org, browser: Callable[..., Client]) -> None:
    with_override(org)
    incident = create(org, T0.replace(hour=8))
    with at(T0.replace(hour=8)):
        page = services.do_page(incident=incident, group=org.net_ops, actor=None, ack_within=300)
    with at(T0.replace(hour=8) + minutes(1)):
        services.do_acknowledge(page=page, actor=org.net_ops_agent)
    html = browser(org.desk_agent).get(f"/incidents/{incident.pk}/").content.decode()
    assert f"Paged {org.net_ops_agent}, on call for Network Operations (attempt 1)" in html
    assert f"{org.net_ops_agent} acknowledged the page for Network Operations" in html


def test_markup_follows_the_csp_and_labels_every_control(
    org: Org, browser: Callable[..., Client]
) -> None:
    """The rules of web/tests/test_i18n_and_security.py on these pages: no inline
    code or styles, scripts with the nonce, a label on every control."""
    schedule = with_override(org)
    incident = create(org, T0.replace(hour=8))
    with at(T0.replace(hour=8)):
        services.do_page(incident=incident, group=org.net_ops, actor=None, ack_within=300)
    page = browser(org.net_ops_agent)
    for path in ("/oncall/", f"/oncall/schedules/{schedule.pk}/?view=month", "/oncall/pages/",
                 f"/escalation/incidents/{incident.pk}/plan/"):  # fmt: skip
        response = page.get(path)
        assert response.status_code == 200, path
        nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"])
        assert nonce
        html = response.content.decode()
        assert not re.search(r"\son[a-z]+\s*=", html), path
        assert not re.search(r"\sstyle\s*=", html) and "<style" not in html, path
        for tag in re.findall(r"<script[^>]*>", html):
            assert f'nonce="{nonce.group(1)}"' in tag or 'type="application/json"' in tag, tag
        labelled = set(re.findall(r'<label[^>]*\sfor="([^"]+)"', html))
        for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", html):
            if re.search(r'type="(hidden|submit)"', tag):
                continue
            control = re.search(r'\sid="([^"]+)"', tag)
            assert "aria-label=" in tag or (control and control.group(1) in labelled), tag


class TestCalendarSubscription:
    def test_the_keeper_gets_a_link_that_a_calendar_can_read_and_stops_it(
        self, org: Org, browser: Callable[..., Client]
    ) -> None:
        schedule = with_override(org)
        manager = browser(org.net_ops_manager)
        page = manager.get(f"/oncall/schedules/{schedule.pk}/").content.decode()
        assert 'id="calendar-subscription"' in page and ">Get a link</button>" in page
        response = manager.post(f"/oncall/schedules/{schedule.pk}/feed-link/", {"do": "new"})
        text = response.content.decode()
        assert response.status_code == 200 and "it is shown once" in text
        match = re.search(r'id="feed-url" class="oc-feed-url" value="([^"]+)"', text)
        assert match, text
        url = match.group(1).replace("&amp;", "&")
        assert ">New link</button>" in text and ">Stop the subscription</button>" in text
        with at(T0):
            feed = Client().get(url)
        assert feed.status_code == 200 and b"BEGIN:VCALENDAR" in feed.content
        assert b"X-SERVICEDESK-USER:desk_agent" in feed.content  # the override is in it
        # Only the link's page shows the key; reloading shows that a feed is active.
        again = manager.get(f"/oncall/schedules/{schedule.pk}/").content.decode()
        assert "A calendar subscription is active." in again and "feed.ics?key=" not in again
        stopped = manager.post(f"/oncall/schedules/{schedule.pk}/feed-link/", {"do": "stop"})
        assert "The calendar subscription is stopped." in stopped.content.decode()
        assert Client().get(url).status_code == 404

    def test_others_do_not_get_links(self, org: Org, browser: Callable[..., Client]) -> None:
        schedule = with_override(org)
        agent = browser(org.net_ops_agent)
        page = agent.get(f"/oncall/schedules/{schedule.pk}/").content.decode()
        assert 'id="calendar-subscription"' not in page
        refused = agent.post(f"/oncall/schedules/{schedule.pk}/feed-link/", {"do": "new"})
        assert refused.status_code == 200 and 'id="feed-url"' not in refused.content.decode()
        schedule.refresh_from_db()
        assert schedule.feed_key_digest == ""
        assert agent.post("/oncall/schedules/999999/feed-link/", {"do": "new"}).status_code == 404
