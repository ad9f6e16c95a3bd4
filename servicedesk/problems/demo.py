"""Demo problem control: problems in every state, built from the demo incidents
with believable histories (RCA artefacts, a review, known errors with
workarounds, fix projects). Idempotent: a problem whose title exists is skipped.

Runs after the organisation and incidents of ``core/demo.py``; the known errors
that exist without a problem are in ``knownerrors/demo.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from servicedesk.core import clock
from servicedesk.core.demo import DemoOrg
from servicedesk.incidents.models import Incident
from servicedesk.knownerrors import fixes
from servicedesk.knownerrors import services as ke_services

from . import rca, services
from .models import Problem

Step = tuple[float, Callable[[DemoOrg, Problem], Any]]


def _incident(ref: str) -> Incident | None:
    return Incident.objects.filter(external_ref=ref).first()


def _run(
    org: DemoOrg, title: str, days_ago: float, create: dict[str, Any], steps: list[Step]
) -> None:
    if Problem.objects.filter(title=title).exists():
        return
    opened = timezone.now() - timedelta(days=days_ago)
    refs = create.pop("incidents", [])
    incidents = [i for i in (_incident(r) for r in refs) if i is not None]
    with transaction.atomic():
        with clock.frozen_at(opened):
            problem = services.do_create_problem(
                actor=org.users["problem"], title=title, incidents=incidents, **create
            )
        for hours, step in steps:
            with clock.frozen_at(opened + timedelta(hours=hours)):
                step(org, problem)


def _investigate(who: str) -> Callable[[DemoOrg, Problem], Any]:
    return lambda org, p: services.do_start_investigation(problem=p.pk, actor=org.users[who])


def _root_cause(who: str, cause: str, symptoms: str = "") -> Callable[[DemoOrg, Problem], Any]:
    return lambda org, p: services.do_record_root_cause(
        problem=p.pk, actor=org.users[who], root_cause=cause, symptoms=symptoms
    )


def _workaround(
    who: str, text: str, audience: str = "support"
) -> Callable[[DemoOrg, Problem], Any]:
    return lambda org, p: services.do_publish_workaround(
        problem=p.pk, actor=org.users[who], workaround=text, audience=audience
    )


def _fix(who: str, title: str, status: list[str], **kw: Any) -> Callable[[DemoOrg, Problem], Any]:
    def step(org: DemoOrg, problem: Problem) -> None:
        known_error = problem.known_errors.get()
        fix = fixes.do_create_fix_project(
            actor=org.users[who], known_error=known_error, title=title, **kw
        )
        for target in status:
            actor = org.users["problem"] if target in ("approved", "cancelled") else org.users[who]
            fixes.do_change_fix_status(fix_project=fix.pk, actor=actor, status=target)

    return step


def _update_ke(**changes: Any) -> Callable[[DemoOrg, Problem], Any]:
    def step(org: DemoOrg, problem: Problem) -> None:
        ke_services.do_update_known_error(
            known_error=problem.known_errors.get(), actor=org.users["problem"], changes=changes
        )

    return step


def _apply(ref: str, who: str) -> Callable[[DemoOrg, Problem], Any]:
    """Record that an (already resolved) demo incident was solved with the workaround."""

    def step(org: DemoOrg, problem: Problem) -> None:
        incident = _incident(ref)
        if incident is not None:
            ke_services.do_apply_workaround(
                incident=incident, known_error=problem.known_errors.get(), actor=org.users[who],
                resolve=False,
            )  # fmt: skip

    return step


def load(org: DemoOrg) -> None:
    svc, cis = org.services, org.cis
    _run(org, "Mailbox database runs out of quota headroom", 45, {
        "service": svc["E-mail"], "configuration_items": [cis["mail-db-01"]], "priority": 2,
        "users_affected": 40, "business_impact": 3, "cost_estimate": Decimal("4000"),
        "cause_estimate_hours": 16, "incidents": ["DEMO-001"], "team": [org.users["mailops1"]],
    }, [
        (2, _investigate("mailops1")),
        (10, _root_cause("mailops1", "Mailbox quotas were sized for 2 GB mailboxes; the database has no headroom left for growth.",
                         "Users stop receiving e-mail; senders get a bounce saying the mailbox is full (552 5.2.2). / Пользователь не получает письма: почтовый ящик переполнен.")),
        (11, _update_ke(error_codes=["5.2.2"], keywords="mailbox full, quota, inbox, почта, ящик переполнен")),
        (12, _workaround("mailops1", "Archive old items (Sent Items, Deleted Items) until the mailbox is under 90% of its quota, or raise the quota by one step in the mail admin console.", "portal")),
        (13, _apply("DEMO-001", "desk1")),
        (30, _fix("maileng1", "Move mailboxes to the new 4 TB mailbox database", ["approved", "in_progress"],
                  priority=2, cost_estimate=Decimal("12000"), change_ref="CHG-2041",
                  planned_start=(timezone.now() - timedelta(days=20)).date(),
                  planned_end=(timezone.now() + timedelta(days=10)).date())),
    ])  # fmt: skip
    _run(org, "Invoice posting locks the ERP at month end", 30, {
        "service": svc["ERP"], "configuration_items": [cis["erp-app-01"], cis["erp-db-01"]],
        "priority": 1, "major": True, "users_affected": 18, "business_impact": 5,
        "cost_estimate": Decimal("25000"), "cause_estimate_hours": 24, "incidents": ["DEMO-003"],
    }, [
        (1, _investigate("appops1")),
        (3, lambda org, p: services.do_escalate(problem=p.pk, actor=org.users["appops1"], reason="Needs a database change.")),
        (20, _root_cause("appeng1", "A missing index on the invoice lines table makes posting lock the whole table.")),
        (21, _workaround("appeng1", "Post invoices in batches of at most 50 and avoid the 09:00-10:00 peak.")),
        (40, _fix("appeng1", "Add the invoice lines index (release 7.3)", ["approved", "in_progress", "implemented"],
                  priority=1, cost_estimate=Decimal("3000"), change_ref="CHG-1987")),
        (48, lambda org, p: services.do_resolve(problem=p.pk, actor=org.users["appeng1"], resolution="Index added in release 7.3; posting takes seconds.")),
        (72, lambda org, p: rca.do_record_review(
            problem=p.pk, actor=org.users["problem"], participants=[org.users["appops1"], org.users["appeng1"]],
            went_well="The workaround reached the 1st line within a day.",
            went_wrong="The month-end load was never tested before the upgrade.",
            lessons="Load-test month-end posting before every ERP release.",
            actions=[{"title": "Add month-end posting to the release load test", "owner": org.users["appeng1"],
                      "due_at": timezone.now() + timedelta(days=14)}])),
    ])  # fmt: skip
    _run(org, "VPN gateway drops remote sessions", 25, {
        "service": svc["VPN"], "configuration_items": [cis["vpn-gw-01"]], "priority": 2,
        "users_affected": 30, "business_impact": 3, "cause_estimate_hours": 8, "incidents": ["DEMO-004"],
        "team": [org.users["netops2"], org.users["neteng1"]],
    }, [
        (1, _investigate("netops2")),
        (4, lambda org, p: services.do_escalate(problem=p.pk, actor=org.users["netops2"], reason="Gateway internals: engineering.")),
        (6, lambda org, p: rca.do_set_ishikawa(problem=p.pk, actor=org.users["neteng1"], categories=[
            {"name": "technology", "causes": [{"text": "Dead peer detection timeout 10 s", "root_cause": True,
                                              "sub_causes": [{"text": "Default kept after the firmware upgrade"}]},
                                             {"text": "UDP fragments dropped by home routers"}]},
            {"name": "process", "causes": [{"text": "Firmware upgrades not tested from home networks"}]},
            {"name": "environment", "causes": [{"text": "Home routers with aggressive NAT timeouts"}]}])),
        (7, lambda org, p: rca.do_set_five_whys(problem=p.pk, actor=org.users["neteng1"], steps=[
            {"why": "Why do sessions drop?", "because": "The gateway declares the peer dead."},
            {"why": "Why is the peer declared dead?", "because": "Keep-alives are lost for 10 seconds."},
            {"why": "Why are keep-alives lost?", "because": "Home routers drop idle UDP mappings."},
            {"why": "Why does 10 seconds matter?", "because": "The DPD timeout was reset to its default by the upgrade."}])),
        (8, lambda org, p: rca.do_set_kepner_tregoe(problem=p.pk, actor=org.users["neteng1"], rows=[
            {"dimension": "what", "is": "VPN sessions drop", "is_not": "Office connections", "distinctions": "UDP over NAT"},
            {"dimension": "where", "is": "Home networks", "is_not": "Mobile hotspots", "distinctions": "Consumer routers"},
            {"dimension": "when", "is": "Since the March firmware upgrade", "is_not": "Before it", "changes": "DPD defaults"}])),
    ])  # fmt: skip
    _run(org, "Payroll export rejects the bank's date format", 12, {
        "service": svc["ERP"], "configuration_items": [cis["erp-db-01"]], "priority": 2,
        "users_affected": 2, "business_impact": 4, "cause_estimate_hours": 6, "incidents": ["DEMO-015"],
    }, [
        (1, _investigate("dbops1")),
        (5, _root_cause("dbops1", "The export formats dates with the user's locale; the bank requires DD.MM.YYYY.",
                        "Exporting the payroll file to the bank fails with E-1042 'invalid date format'. / Выгрузка зарплаты в банк завершается ошибкой E-1042.")),
        (5.5, _update_ke(error_codes=["E-1042"], keywords="salary, bank, зарплата")),
        (6, _workaround("dbops1", "Set the ERP user's date format to DD.MM.YYYY before running the export.")),
        (8, _fix("dbeng1", "Fix the export's date format in the payroll module", [], priority=2,
                 cost_estimate=Decimal("1500"))),
    ])  # fmt: skip
    _run(org, "Wi-Fi on floor 2 degrades during the day", 0.05, {
        "service": svc["Workplace"], "configuration_items": [cis["sw-floor2-01"]], "priority": 3,
        "users_affected": 6, "business_impact": 2, "incidents": ["DEMO-014"],
    }, [])  # fmt: skip
    _run(org, "Floor printers jam as fusers wear out", 18, {
        "service": svc["Workplace"], "configuration_items": [cis["prn-floor2"]], "priority": 4,
        "users_affected": 1, "incidents": ["DEMO-005"],
    }, [
        (24, lambda org, p: services.do_defer(problem=p.pk, actor=org.users["problem"],
                                              reason="Low impact; the printer contract is renewed next quarter with preventive maintenance.")),
    ])  # fmt: skip
    _run(org, "Outlook password prompts after a password change", 38, {
        "service": svc["E-mail"], "priority": 3, "users_affected": 5, "cause_estimate_hours": 4,
    }, [
        (1, _investigate("mailops2")),
        (3, _root_cause("mailops2", "Outlook keeps stale cached credentials after the password changes.",
                        "After a password change Outlook keeps asking for the password. / После смены пароля Outlook постоянно запрашивает пароль.")),
        (4, _workaround("mailops2", "Remove the Outlook entries from Windows Credential Manager and restart Outlook.", "portal")),
        (200, lambda org, p: services.do_resolve(problem=p.pk, actor=org.users["mailops2"],
                                                 resolution="Office update 2402 clears cached credentials on password change.")),
        (210, lambda org, p: services.do_close(problem=p.pk, actor=org.users["mailops2"])),
    ])  # fmt: skip
