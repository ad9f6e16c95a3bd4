"""The issue's stories in a real browser: registration by phone, escalation to the
2nd line, an end user in Russian, and the live SLA countdown."""

# ruff: noqa: RUF001 (the Russian story types Cyrillic on purpose)
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from servicedesk.incidents import services
from servicedesk.incidents.models import Incident, Source, Status
from servicedesk.testing.org import Org, build_org

from .conftest import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def org(transactional_db: None) -> Org:
    return build_org()


def test_first_line_registers_by_phone_and_resolves(org: Org, open_page: Any) -> None:
    org.reporter.phone = "+7 495 555-04-00"
    org.reporter.save()
    page = open_page()
    sign_in(page, org.desk_agent.username)
    page.keyboard.press("n")  # the shortcut to a new registration
    page.wait_for_url("**/incidents/new/")
    page.fill("#reporter-search", "555 04 00")
    reporter = page.get_by_role("radio", name=str(org.reporter))
    reporter.wait_for()
    assert reporter.is_checked()  # the only match is chosen
    assert "+7 495 555-04-00" in page.inner_text("#reporter-results")
    page.fill("#id_title", "Cannot send e-mail")
    with page.expect_response("**/incidents/new/items/**"):  # the CI picker reloads
        page.select_option("#id_service", label="E-mail")
    page.wait_for_selector("#id_configuration_item option:text('mail-01')", state="attached")
    page.select_option("#id_configuration_item", label="mail-01")
    page.fill("#id_affected_users", "12")
    page.wait_for_selector("#severity-preview .sev-2")  # severity shown live
    page.click("form.register button[type=submit]")
    page.wait_for_url("**/incidents/*/")
    incident = Incident.objects.get()
    assert (incident.source, incident.severity, incident.reporter) == (
        Source.PHONE,
        2,
        org.reporter,
    )
    assert "registered" in page.inner_text(".messages-region")

    page.click("details[data-action=resolve] > summary")
    page.select_option("#id_resolve-resolution_code", "user_instruction")
    page.fill("#id_resolve-resolution", "Cleared the outbox; mail flows again.")
    page.click("details[data-action=resolve] button[type=submit]")
    page.wait_for_selector("#incident-main .msg-success:has-text('Resolved.')")  # swapped by htmx
    assert page.url.endswith(f"/incidents/{incident.pk}/")
    assert "resolved" in page.inner_text(".incident-head")
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED and incident.assignee == org.desk_agent


def test_escalation_and_the_second_line_takes_it(org: Org, open_page: Any) -> None:
    incident = services.do_create_incident(
        actor=org.desk_agent, title="Router drops packets", reporter=org.reporter,
        configuration_item=org.router, affected_users=3,
    )  # fmt: skip
    desk = open_page()
    sign_in(desk, org.desk_agent.username)
    desk.goto(f"/incidents/{incident.pk}/")
    desk.click("details[data-action=escalate] > summary")
    desk.check("input[name=escalate-kind][value=functional]")
    desk.select_option("#id_escalate-reason", "insufficient_knowledge")
    desk.fill("#id_escalate-comment", "Needs the router's configuration.")
    desk.click("details[data-action=escalate] button[type=submit]")
    desk.wait_for_selector("#incident-main .msg-success:has-text('Escalated.')")
    assert "Network Operations" in desk.inner_text("#card-title + dl")
    # The desk keeps the 2nd line's manager informed: a watcher, from the panel.
    desk.select_option("#communications-panel select[name=user]", str(org.net_ops_manager.pk))
    desk.click("#communications-panel form.add-watcher button[type=submit]")
    desk.wait_for_selector(f"#communications-panel [data-watcher='{org.net_ops_manager.pk}']")
    assert "now watches this incident" in desk.inner_text("#communications-panel")

    ops = open_page()
    sign_in(ops, org.net_ops_agent.username)
    ops.goto("/?queue=groups")
    ops.click(f"text={incident.number}")
    ops.click("form.one-click button:has-text('Accept')")
    ops.wait_for_selector("#incident-main .msg-success:has-text('You are working on it now.')")
    assert "in progress" in ops.inner_text(".incident-head")
    incident.refresh_from_db()
    assert (incident.support_level, incident.assignee, incident.status) == (
        2, org.net_ops_agent, Status.IN_PROGRESS)  # fmt: skip
    assert "Escalated to the 2nd line (Network Operations)" in ops.inner_text(".timeline")


def test_end_user_reports_and_follows_in_russian(org: Org, open_page: Any) -> None:
    page = open_page(locale="ru-RU", viewport={"width": 390, "height": 844}, is_mobile=True)
    sign_in(page, org.reporter.username)
    assert page.get_attribute("html", "lang") == "ru"
    page.click("text=Сообщить об инциденте >> nth=0")
    page.fill("#id_title", "Не печатает принтер")
    page.fill("#id_description", "Бумага застревает на каждой странице.")
    page.fill("#id_affected_users", "3")
    page.click("main button[type=submit]")
    page.wait_for_selector("text=Спасибо")
    incident = Incident.objects.get()
    assert incident.source == Source.PORTAL and incident.reporter == org.reporter
    page.fill("#id_comment-body", "Принтер на втором этаже.")
    page.click("form:has(#id_comment-body) button[type=submit]")
    page.wait_for_selector("text=Комментарий добавлен.")

    services.do_resolve(incident=incident, actor=org.desk_agent, resolution_code="permanent_fix",
                        resolution="Заменили узел закрепления.")  # fmt: skip
    page.goto("/portal/")
    assert "подтвердите решение" in page.inner_text("main")
    page.click(f"text={incident.number}")
    page.wait_for_selector("text=Всё снова работает?")
    page.check("input[name=close-satisfaction][value='5']")
    page.click("text=Да, закрыть")
    page.wait_for_selector("text=Вы оценили решение на 5 из 5")
    incident.refresh_from_db()
    assert (incident.status, incident.satisfaction) == (Status.CLOSED, 5)


def test_sla_countdown_turns_amber_then_red(org: Org, open_page: Any) -> None:
    incident = services.do_create_incident(actor=org.desk_agent, title="Slow VPN",
                                           reporter=org.reporter)  # fmt: skip
    now = timezone.now()
    # The escalation engine keeps these deadlines; the test sets them directly.
    Incident.objects.filter(pk=incident.pk).update(
        opened_at=now, respond_by=now + timedelta(hours=2)
    )
    page = open_page()
    page.clock.install(time=now)
    sign_in(page, org.desk_agent.username)
    page.goto("/?queue=all")
    sla = page.locator(".sla").first
    assert "sla-ok" in (sla.get_attribute("class") or "")
    page.clock.fast_forward("01:35:00")
    page.clock.run_for(16_000)
    assert "sla-warn" in (sla.get_attribute("class") or "")
    page.clock.fast_forward("00:35:00")
    page.clock.run_for(16_000)
    assert "sla-breach" in (sla.get_attribute("class") or "")
    assert "overdue" in sla.inner_text()
    page.keyboard.press("j")  # keyboard: the first row gets focus
    assert page.evaluate("document.activeElement.textContent") == incident.number
