"""The pages of error control through Django's client: the KEDB, a known error,
fix projects, the incident page's panel with "apply workaround", and the
portal's published workarounds."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from servicedesk.accounts.models import User
from servicedesk.incidents import services as incident_services
from servicedesk.incidents.models import Incident, IncidentEvent, ResolutionCode, Status
from servicedesk.knownerrors import fixes, services
from servicedesk.knownerrors.models import Audience, KnownError, KnownErrorIncident
from servicedesk.testing.org import Org

pytestmark = pytest.mark.django_db

HTMX_PANEL = {"HX-Request": "true", "HX-Target": "known-errors-panel"}


def browser(user: User, language: str = "en") -> Client:
    client = Client(headers={"accept-language": language})
    client.force_login(user)
    return client


def ke(org: Org, **kw: Any) -> KnownError:
    kw.setdefault("title", "Mailbox quota exceeded")
    kw.setdefault(
        "symptoms", "User cannot receive e-mail; the mailbox is full. / Почтовый ящик переполнен."
    )
    kw.setdefault("root_cause", "Mailbox at its quota.")
    kw.setdefault("workaround", "Archive old items to the local archive.")
    return services.do_create_known_error(actor=kw.pop("actor", org.mail_ops_agent), **kw)


def incident(org: Org, **kw: Any) -> Incident:
    kw.setdefault("title", "Cannot receive e-mail, mailbox full")
    kw.setdefault("reporter", org.reporter)
    return incident_services.do_create_incident(actor=kw.pop("actor", org.desk_agent), **kw)


def html(response: Any) -> str:
    return str(response.content.decode())


def check_markup(text: str) -> None:
    """The CSP's rules (no inline code or styles) and a label on every control."""
    assert not re.search(r"\son[a-z]+\s*=", text), "inline event handler"
    assert not re.search(r"\sstyle\s*=", text), "inline style attribute"
    assert "<style" not in text and "hx-on" not in text
    labelled = set(re.findall(r'<label[^>]*\sfor="([^"]+)"', text))
    for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", text):
        if re.search(r'type="(hidden|submit)"', tag):
            continue
        control_id = re.search(r'\sid="([^"]+)"', tag)
        assert "aria-label=" in tag or (control_id and control_id.group(1) in labelled), tag


# ---- the KEDB --------------------------------------------------------------------------------


def test_kedb_lists_known_errors_newest_first(org: Org) -> None:
    first = ke(org)
    second = ke(org, title="VPN drops every hour", symptoms="The VPN disconnects.",
                technology=org.network, services=[org.internet], error_codes=["E-809"],
                audience=Audience.UNPUBLISHED)  # fmt: skip
    response = browser(org.desk_agent).get("/known-errors/")
    assert response.status_code == 200
    text = html(response)
    check_markup(text)
    assert text.index(second.number) < text.index(first.number)
    assert "not published" in text and "E-809" in text and "Internet" in text
    assert 'aria-current="page">Known errors' in text  # the navigation marks the section


def test_kedb_search_uses_the_matching_service(org: Org) -> None:
    mailbox = ke(org)
    ke(org, title="Printer jams", symptoms="Paper jams in the printer.", workaround="Open tray 2.")
    draft = ke(org, title="Mailbox full draft", audience=Audience.UNPUBLISHED)
    text = html(browser(org.desk_agent).get("/known-errors/", {"q": "ящик переполнен"}))
    assert mailbox.number in text and "Printer jams" not in text
    assert draft.number not in text  # drafts are never matched
    assert "matched 2 of 2 search terms" in text
    ru = html(browser(org.desk_agent, "ru").get("/known-errors/", {"q": "mailbox full"}))
    assert mailbox.number in ru and "совпало слов поиска: 2 из 2" in ru  # the reader's language


def test_reasons_are_translatable_messages() -> None:
    from django.utils import translation
    from django.utils.functional import Promise

    from servicedesk.knownerrors.ui import _REASONS, reason_text

    with translation.override("en"):
        assert reason_text("matched 2 of 3 search terms: ящик, full") == (
            "matched 2 of 3 search terms: ящик, full"
        )
        assert reason_text("something new") == "something new"  # shown as is, never hidden
    with translation.override("ru"):
        assert reason_text("same configuration item: mail-01") == (
            "та же конфигурационная единица: mail-01"
        )
    assert all(isinstance(text, Promise) for _, text in _REASONS)  # each one translatable


def test_kedb_number_opens_the_known_error(org: Org) -> None:
    found = ke(org)
    response = browser(org.desk_agent).get("/known-errors/", {"q": found.number.lower()})
    assert response.status_code == 302 and response["Location"] == f"/known-errors/{found.pk}/"


def test_kedb_filters(org: Org) -> None:
    published = ke(org)
    draft = ke(org, title="Draft one", audience=Audience.UNPUBLISHED)
    text = html(browser(org.desk_agent).get("/known-errors/", {"audience": "unpublished"}))
    assert draft.number in text and published.number not in text
    response = browser(org.desk_agent).get(
        "/known-errors/", {"status": "nonsense", "audience": "unpublished"}
    )
    text = html(response)
    assert draft.number in text and published.number not in text  # the valid filter applies
    assert response.context["form"].errors["status"]  # the invalid one is ignored, and shown


def test_kedb_is_for_staff(org: Org) -> None:
    response = browser(org.reporter).get("/known-errors/")
    assert response.status_code == 302 and response["Location"] == "/portal/"
    response = Client().get("/known-errors/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_kedb_query_count_is_pinned(org: Org, django_assert_num_queries: Any) -> None:
    for n in range(12):
        ke(org, title=f"Error {n}", services=[org.mail], configuration_items=[org.mail_server],
           error_codes=[f"E-{n}"])  # fmt: skip
    page = browser(org.desk_agent)
    page.get("/known-errors/")
    # session, user, the known errors (with incidents caused), their services, CIs,
    # error codes and fix projects
    with django_assert_num_queries(7):
        response = page.get("/known-errors/")
    assert len(response.context["found"]) == 12


# ---- a known error ---------------------------------------------------------------------------------


def test_known_error_page(org: Org) -> None:
    known = ke(
        org, permanent_fix="Raise the quota to 10 GB.", configuration_items=[org.mail_server]
    )
    caused = incident(org)
    services.do_apply_workaround(incident=caused, known_error=known, actor=org.desk_agent)
    fix = fixes.do_create_fix_project(actor=org.mail_eng_manager, known_error=known.pk,
                                      title="Bigger mailboxes", cost_estimate=Decimal("1500"))  # fmt: skip
    response = browser(org.desk_agent).get(f"/known-errors/{known.pk}/")
    assert response.status_code == 200
    text = html(response)
    check_markup(text)
    for part in ("Mailbox at its quota.", "Archive old items", "Raise the quota to 10 GB.",
                 "mail-01", caused.number, fix.number, "1,500.00", "workaround applied to an incident",
                 "none (registered directly)"):  # fmt: skip
        assert part in text, part
    assert f'href="/incidents/{caused.pk}/"' in text


def test_known_error_page_404_and_staff_only(org: Org) -> None:
    assert browser(org.desk_agent).get("/known-errors/999999/").status_code == 404
    known = ke(org)
    response = browser(org.reporter).get(f"/known-errors/{known.pk}/")
    assert response.status_code == 302 and response["Location"] == "/portal/"


def test_known_error_page_query_count_is_pinned(org: Org, django_assert_num_queries: Any) -> None:
    known = ke(org, services=[org.mail], error_codes=["5.2.2"])
    for n in range(5):
        services.do_apply_workaround(incident=incident(org, title=f"Mail {n}"), known_error=known,
                                     actor=org.desk_agent)  # fmt: skip
        fixes.do_create_fix_project(actor=org.mail_eng_manager, known_error=known.pk, title=f"F{n}")
    page = browser(org.desk_agent)
    page.get("/")
    # session, user, the known error, services, CIs, codes, fix projects, incidents,
    # events, who registered it
    with django_assert_num_queries(10):
        response = page.get(f"/known-errors/{known.pk}/")
    assert len(response.context["caused_links"]) == 5


# ---- fix projects ------------------------------------------------------------------------------


def test_fix_projects_list(org: Org) -> None:
    known = ke(org)
    urgent = fixes.do_create_fix_project(actor=org.mail_eng_manager, known_error=known.pk,
                                         title="Urgent fix", priority=1,
                                         cost_estimate=Decimal("2000"))  # fmt: skip
    later = fixes.do_create_fix_project(actor=org.mail_eng_manager, known_error=known.pk,
                                        title="Later fix", priority=4)  # fmt: skip
    fixes.do_change_fix_status(fix_project=urgent.pk, actor=org.mail_eng_manager, status="approved")
    fixes.do_change_fix_status(fix_project=urgent.pk, actor=org.mail_eng_manager,
                               status="in_progress")  # fmt: skip
    response = browser(org.desk_agent).get("/known-errors/fix-projects/")
    text = html(response)
    check_markup(text)
    assert text.index("Urgent fix") < text.index("Later fix")  # the prioritised list
    assert "in progress" in text and "2,000.00" in text
    figures = response.context["figures"]
    assert figures["fix_projects_started"] == 1 and figures[
        "fix_projects_cost_estimate"
    ] == Decimal("2000.00")
    text = html(browser(org.desk_agent).get("/known-errors/fix-projects/", {"status": "proposed"}))
    assert "Later fix" in text and "Urgent fix" not in text
    assert later.number in text


def test_fix_projects_query_count_is_pinned(org: Org, django_assert_num_queries: Any) -> None:
    known = ke(org)
    for n in range(8):
        fixes.do_create_fix_project(actor=org.mail_eng_manager, known_error=known.pk, title=f"F{n}",
                                    owner=org.mail_engineer, group=org.mail_eng)  # fmt: skip
    page = browser(org.desk_agent)
    page.get("/")
    # session, user, the fix projects (with known error, owner, group), and the
    # figures of Table 3 (one sum, five counts)
    with django_assert_num_queries(9):
        response = page.get("/known-errors/fix-projects/")
    assert len(response.context["fixes"]) == 8


# ---- the incident page's panel --------------------------------------------------------------------


def test_incident_page_has_the_panel_without_extra_queries(org: Org) -> None:
    case = incident(org)
    text = html(browser(org.desk_agent).get(f"/incidents/{case.pk}/"))
    assert 'id="known-errors-panel"' in text
    assert f'hx-get="/known-errors/incidents/{case.pk}/"' in text and 'hx-trigger="load"' in text


def test_panel_shows_matching_known_errors_with_workarounds(org: Org) -> None:
    mailbox = ke(org, configuration_items=[org.mail_server])
    ke(org, title="Printer jams", symptoms="Paper jams in the printer.", workaround="Open tray 2.")
    case = incident(org, configuration_item=org.mail_server)
    response = browser(org.desk_agent).get(
        f"/known-errors/incidents/{case.pk}/", headers=HTMX_PANEL
    )
    assert response.status_code == 200
    text = html(response)
    assert text.startswith('<section class="card known-errors" id="known-errors-panel"')
    check_markup(text)
    assert mailbox.number in text and "Archive old items" in text and "Printer jams" not in text
    assert "same configuration item: mail-01" in text
    assert "Apply workaround and resolve" in text
    # Without JavaScript the same panel is a page of its own.
    page = browser(org.desk_agent).get(f"/known-errors/incidents/{case.pk}/")
    assert "<html" in html(page) and mailbox.number in html(page)


def test_apply_workaround_resolves_and_refreshes_the_incident(org: Org) -> None:
    mailbox = ke(org)
    case = incident(org)
    response = browser(org.desk_agent).post(
        f"/known-errors/incidents/{case.pk}/apply/", {"known_error": mailbox.pk, "resolve": "1"},
        headers=HTMX_PANEL,
    )  # fmt: skip
    assert response.status_code == 200
    assert response["HX-Retarget"] == "#incident-main" and response["HX-Reswap"] == "outerHTML"
    text = html(response)
    assert text.startswith('<div id="incident-main"')
    assert f"Workaround of {mailbox.number} applied; the incident is resolved." in text
    assert "resolved by the known error" in text  # the timeline, described by knownerrors/ui.py
    case.refresh_from_db()
    assert case.status == Status.RESOLVED and case.resolution_code == ResolutionCode.KNOWN_ERROR
    link = KnownErrorIncident.objects.get(incident=case)
    assert link.known_error == mailbox and link.resolved and link.match["score"] > 0
    # The panel now lists it as applied and offers nothing to apply (resolved).
    panel = html(
        browser(org.desk_agent).get(f"/known-errors/incidents/{case.pk}/", headers=HTMX_PANEL)
    )
    assert "resolved the incident" in panel and "Apply workaround" not in panel


def test_link_only_keeps_the_incident_open(org: Org) -> None:
    mailbox = ke(org)
    case = incident(org)
    response = browser(org.desk_agent).post(
        f"/known-errors/incidents/{case.pk}/apply/", {"known_error": mailbox.pk, "resolve": ""}
    )
    assert response.status_code == 302 and response["Location"] == f"/incidents/{case.pk}/"
    case.refresh_from_db()
    assert case.is_open
    assert IncidentEvent.objects.filter(incident=case, type="known_error_applied").count() == 1


def test_refused_apply_shows_why_in_the_panel(org: Org) -> None:
    mailbox = ke(org)
    case = incident(org)
    services.do_apply_workaround(incident=case, known_error=mailbox, actor=org.desk_agent,
                                 resolve=False)  # fmt: skip
    services.do_withdraw_workaround(known_error=mailbox, actor=org.mail_ops_agent)
    response = browser(org.desk_agent).post(
        f"/known-errors/incidents/{case.pk}/apply/", {"known_error": mailbox.pk, "resolve": "1"},
        headers=HTMX_PANEL,
    )  # fmt: skip
    assert response.status_code == 422 and "HX-Retarget" not in response
    assert "no published workaround to apply" in html(response)
    response = browser(org.desk_agent, "ru").post(
        f"/known-errors/incidents/{case.pk}/apply/", {"known_error": "x"}, headers=HTMX_PANEL
    )
    assert response.status_code == 422
    case.refresh_from_db()
    assert case.is_open


def test_apply_needs_staff_who_may_work_the_incident(org: Org) -> None:
    mailbox = ke(org)
    case = incident(org, service=org.mail)
    response = browser(org.reporter).post(
        f"/known-errors/incidents/{case.pk}/apply/", {"known_error": mailbox.pk, "resolve": "1"}
    )
    assert response.status_code == 302 and response["Location"] == "/portal/"
    assert (
        browser(org.desk_agent).get(f"/known-errors/incidents/{case.pk}/apply/").status_code == 405
    )
    # An agent of an unrelated group sees the matches but may not apply them.
    incident_services.do_escalate(incident=case, actor=org.desk_agent,
                                  reason="insufficient_knowledge")  # fmt: skip
    outsider = browser(org.net_ops_agent)
    panel = outsider.get(f"/known-errors/incidents/{case.pk}/", headers=HTMX_PANEL)
    assert panel.status_code == 200 and mailbox.number in html(panel)
    assert "Apply workaround" not in html(panel)
    response = outsider.post(f"/known-errors/incidents/{case.pk}/apply/",
                             {"known_error": mailbox.pk, "resolve": "1"}, headers=HTMX_PANEL)  # fmt: skip
    assert response.status_code == 422 and "another group" in html(response)
    assert not KnownErrorIncident.objects.exists()


def test_panel_query_count_is_pinned(org: Org, django_assert_num_queries: Any) -> None:
    for n in range(6):
        ke(org, title=f"Mailbox full {n}", services=[org.mail], error_codes=[f"5.2.{n}"])
    case = incident(org, service=org.mail)
    page = browser(org.desk_agent)
    page.get("/")
    # session, user, incident, applied links, the index statistics, the FTS
    # retrieval, the scored rows, the service boost, then the matches' records
    # (with incidents caused) and their services, CIs, codes and fix projects,
    # and the user's groups (may they apply?)
    with django_assert_num_queries(14):
        response = page.get(f"/known-errors/incidents/{case.pk}/", headers=HTMX_PANEL)
    assert len(response.context["matches"]) == 5


# ---- the portal --------------------------------------------------------------------------------


def test_portal_searches_published_workarounds(org: Org) -> None:
    public = ke(org, audience=Audience.PORTAL, title="Mailbox full",
                workaround="Delete old mail to make room.")  # fmt: skip
    support_only = ke(org, title="Mailbox full (server side)")
    response = browser(org.reporter).get("/portal/solutions/", {"q": "mailbox is full"})
    assert response.status_code == 200
    text = html(response)
    check_markup(text)
    assert f"/portal/solutions/{public.pk}/" in text
    assert f"/portal/solutions/{support_only.pk}/" not in text
    assert "Mailbox at its quota." not in text  # root causes are internal
    assert 'aria-current="page">Solutions' in text  # the end user's navigation
    listing = html(browser(org.reporter).get("/portal/solutions/"))
    assert "Mailbox full" in listing and "server side" not in listing
    page = browser(org.reporter, "ru").get(f"/portal/solutions/{public.pk}/")
    assert page.status_code == 200 and "Delete old mail to make room." in html(page)
    assert browser(org.reporter).get(f"/portal/solutions/{support_only.pk}/").status_code == 404
    # Staff see the portal's view too (only what end users see).
    staff_view = html(browser(org.desk_agent).get("/portal/solutions/", {"q": "mailbox full"}))
    assert f"/portal/solutions/{support_only.pk}/" not in staff_view


def test_portal_solutions_need_sign_in(org: Org) -> None:
    response = Client().get("/portal/solutions/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_portal_solutions_query_count_is_pinned(org: Org, django_assert_num_queries: Any) -> None:
    for n in range(6):
        ke(org, audience=Audience.PORTAL, title=f"Mailbox full {n}")
    page = browser(org.reporter)
    page.get("/portal/")
    # session, user, the index statistics, the FTS retrieval, the scored rows,
    # then the matches (with incidents caused), services, CIs, codes, fix projects
    with django_assert_num_queries(10):
        response = page.get("/portal/solutions/", {"q": "mailbox full"})
    assert len(response.context["found"]) == 6


def test_known_error_page_names_its_problem(org: Org) -> None:
    from servicedesk.knownerrors.views import problem_url
    from servicedesk.problems import services as problem_services

    problem = problem_services.do_create_problem(actor=org.problem_manager,
                                                 title="Mail clients lose their cache")  # fmt: skip
    known = ke(org, problem=problem)
    text = html(browser(org.desk_agent).get(f"/known-errors/{known.pk}/"))
    assert str(problem) in text
    url = problem_url(problem.pk)  # linked once the problems app has its pages
    assert (f'href="{url}"' in text) if url else ("none (registered directly)" not in text)
