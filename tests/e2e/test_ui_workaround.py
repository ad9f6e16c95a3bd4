"""Issue 7's proof in a real browser: a 1st-line agent registers an incident by
phone, applies a known workaround and resolves it; then the KEDB shows the
known error with the incident it caused (with SERVICEDESK_SCREENSHOTS set, it
photographs the pages for docs/screenshots)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from servicedesk.incidents.models import Incident, ResolutionCode, Source, Status
from servicedesk.knownerrors import fixes
from servicedesk.knownerrors import services as known_errors
from servicedesk.knownerrors.models import Audience, KnownErrorIncident
from servicedesk.testing.org import Org, build_org

from .conftest import sign_in
from .shots import shoot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def org(transactional_db: None) -> Org:
    return build_org()


def test_first_line_applies_a_known_workaround_and_resolves(org: Org, open_page: Any) -> None:
    org.reporter.phone = "+7 495 555-04-00"
    org.reporter.save()
    outbox = known_errors.do_create_known_error(
        actor=org.mail_ops_agent, title="Outgoing mail stuck in the outbox",
        symptoms="Users cannot send e-mail; messages stay in the Outbox. / Письма не уходят, "
                 "застревают в исходящих.",
        root_cause="The mail client's offline cache is corrupt after the 5.2 update.",
        workaround="Close the mail client, delete the offline cache (OST file) and start it again.",
        permanent_fix="Roll out client patch 5.2.1.", services=[org.mail],
        configuration_items=[org.mail_server], error_codes=["0x800CCC0F"],
        audience=Audience.PORTAL,
    )  # fmt: skip
    fixes.do_create_fix_project(
        actor=org.mail_eng_manager, known_error=outbox.pk, title="Roll out client patch 5.2.1",
        priority=2, cost_estimate=Decimal("1200"), change_ref="CHG-1042",
    )  # fmt: skip
    known_errors.do_create_known_error(
        actor=org.net_ops_agent, title="VPN drops every hour",
        symptoms="The VPN disconnects every hour.", root_cause="Key lifetime mismatch.",
        workaround="Reconnect.", technology=org.network,
    )  # fmt: skip

    page = open_page(viewport={"width": 1366, "height": 800})
    sign_in(page, org.desk_agent.username)
    # Register the call: the reporter found by the phone number they called from.
    page.goto("/incidents/new/")
    page.fill("#reporter-search", "555 04 00")
    page.get_by_role("radio", name=str(org.reporter)).wait_for()
    page.fill("#id_title", "Cannot send e-mail, messages stay in the outbox")
    # Choosing the service reloads the CI picker; pick the CI after that swap.
    with page.expect_response("**/incidents/new/items/**"):
        page.select_option("#id_service", label="E-mail")
    page.wait_for_selector("#id_configuration_item option:text('mail-01')", state="attached")
    page.select_option("#id_configuration_item", label="mail-01")
    page.fill("#id_affected_users", "1")
    page.click("form.register button[type=submit]")
    page.wait_for_url("**/incidents/*/")
    incident = Incident.objects.get()
    assert incident.source == Source.PHONE and incident.reporter == org.reporter

    # The matching known error shows on the incident page with its workaround.
    match = page.locator(f"#known-errors-panel [data-known-error='{outbox.pk}']")
    match.wait_for()
    assert "delete the offline cache" in match.inner_text()
    assert "same configuration item: mail-01" in match.inner_text()
    assert "VPN drops" not in page.inner_text("#known-errors-panel")
    shoot(page, "incident-known-errors.png", full_page=True)
    match.get_by_role("button", name="Apply workaround and resolve").click()
    page.wait_for_selector(
        f"#incident-main .msg-success:has-text('Workaround of {outbox.number} applied')"
    )
    assert "resolved" in page.inner_text(".incident-head")
    assert "resolved by the known error" in page.inner_text(".timeline")
    # The refreshed page's panel lists the known error as applied.
    page.wait_for_selector("#known-errors-panel:has-text('resolved the incident')")
    incident.refresh_from_db()
    assert incident.status == Status.RESOLVED
    assert incident.resolution_code == ResolutionCode.KNOWN_ERROR
    assert KnownErrorIncident.objects.get().known_error == outbox

    # The KEDB: search in the caller's words (Russian), open the known error.
    page.goto("/known-errors/?q=письма+не+уходят")
    page.wait_for_selector(f"#kedb td.num:has-text('{outbox.number}')")
    assert "VPN drops" not in page.inner_text("#kedb")
    page.goto("/known-errors/")
    shoot(page, "kedb.png")
    page.click(f"text={outbox.number}")
    page.wait_for_selector("#caused-title")
    assert incident.number in page.inner_text("#caused-title + div")
    shoot(page, "known-error.png", full_page=True)


def test_status_update_reaches_a_watcher_with_an_unread_badge(org: Org, open_page: Any) -> None:
    from servicedesk.core.worker import Worker
    from servicedesk.incidents import services as incidents
    from servicedesk.notifications import defaults
    from servicedesk.notifications import services as notifications

    defaults.install()  # the shipped rules and templates (a flush removed the migration's)
    incident = incidents.do_create_incident(
        actor=org.desk_agent, title="E-mail down for the sales floor", reporter=org.reporter,
        service=org.mail, affected_users=12,
    )  # fmt: skip
    assert incident.severity <= 2
    notifications.do_watch(actor=org.mail_ops_agent, incident=incident)

    desk = open_page()
    sign_in(desk, org.desk_agent.username)
    desk.goto(f"/incidents/{incident.pk}/")
    desk.click("details[data-action=status-update] > summary")
    desk.uncheck("input[name=update-channels][value=email]")
    desk.fill("#id_update-text", "The mail server is restarting; mail flows again by 11:00.")
    desk.click("details[data-action=status-update] button[type=submit]")
    desk.wait_for_selector("#incident-main .msg-success:has-text('Status update sent')")
    assert "mail flows again by 11:00" in desk.inner_text(".timeline")

    worker = Worker(name="e2e-worker", poll_seconds=0)  # deliver the in-app messages
    while worker.run_due_once() + worker.run_outbox_once():
        pass

    ops = open_page()
    sign_in(ops, org.mail_ops_agent.username)
    badge = ops.locator(".main-nav .nav-badge")
    ops.wait_for_selector(".main-nav .nav-badge:text-matches('^[1-9]')")
    unread = int(badge.inner_text())
    ops.click(".main-nav a[href='/notifications/']")
    ops.wait_for_url("**/notifications/")
    item = ops.locator("#notifications li", has_text="mail flows again by 11:00")
    assert incident.number in item.inner_text()
    item.get_by_role("button", name="Mark read").click()
    ops.wait_for_selector(
        "#notifications li:has-text('mail flows again by 11:00')", state="detached"
    )
    # The badge hears the change at once (the response's HX-Trigger), not after a minute.
    ops.wait_for_function(
        "n => (document.querySelector('.main-nav .nav-badge').textContent || '0') === String(n)",
        arg=unread - 1,
    )
