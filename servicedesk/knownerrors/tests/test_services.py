"""Known-error services: life cycle, publication, matching, applying workarounds,
closing, fix projects and monitoring."""

# ruff: noqa: RUF001  (Russian text is meant to be Cyrillic)

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from servicedesk.core.errors import Conflict, FieldError, IllegalTransition, PermissionDenied
from servicedesk.incidents import services as incident_services
from servicedesk.incidents.models import Incident, IncidentEvent
from servicedesk.knownerrors import fixes, monitoring, search, services
from servicedesk.knownerrors.models import (
    FixProjectEvent,
    IndexStatistic,
    KnownError,
    KnownErrorEvent,
    Status,
    TermStatistic,
)
from servicedesk.knownerrors.transitions import FIX_TRANSITIONS
from servicedesk.problems import services as problem_services
from servicedesk.problems.models import ProblemIncident
from servicedesk.testing.org import Org

pytestmark = pytest.mark.django_db


def ke(org: Org, **kw: object) -> KnownError:
    kw.setdefault("title", "Mailbox quota exceeded")
    kw.setdefault(
        "symptoms", "User cannot receive e-mail; the mailbox is full. / Почтовый ящик переполнен."
    )
    kw.setdefault("root_cause", "Mailbox at its quota.")
    kw.setdefault("workaround", "Archive old items.")
    return services.do_create_known_error(actor=kw.pop("actor", org.mail_ops_agent), **kw)  # type: ignore[arg-type]


def incident(org: Org, **kw: object) -> Incident:
    kw.setdefault("title", "Cannot receive e-mail")
    kw.setdefault("reporter", org.reporter)
    return incident_services.do_create_incident(actor=kw.pop("actor", org.desk_agent), **kw)  # type: ignore[arg-type]


def types(known_error: KnownError) -> list[str]:
    return list(known_error.events.order_by("id").values_list("type", flat=True))


def match(text: str, **kw: object) -> list[search.Match]:
    return search.match(search.Query(text=text, **kw))  # type: ignore[arg-type]


class TestRegistration:
    def test_created_and_published_for_support(self, org: Org) -> None:
        k = ke(org, error_codes=["E-1042", "e1042", " 0x80070005 "], services=[org.mail])
        assert k.number == f"KE-{k.pk:06d}" and k.status == Status.OPEN
        assert k.audience == "support" and k.workaround_published_at is not None
        assert sorted(k.codes.values_list("normalised", flat=True)) == ["0x80070005", "e1042"]
        assert k.technology == org.email  # from the service
        assert types(k) == ["created", "workaround_published"]
        assert "e1042" in k.search_text.split() and "ящик" in k.search_text.split()

    def test_requirements(self, org: Org) -> None:
        with pytest.raises(FieldError) as err:
            ke(org, root_cause=" ")
        assert err.value.loc == ["body", "root_cause"]
        with pytest.raises(FieldError):
            ke(org, workaround="")
        draft = ke(org, workaround="", audience="unpublished")
        assert draft.search_text == "" and types(draft) == ["created"]

    def test_first_line_cannot_register(self, org: Org) -> None:
        with pytest.raises(PermissionDenied):
            ke(org, actor=org.desk_agent)

    def test_update_reindexes_and_republishes(self, org: Org) -> None:
        k = ke(org)
        services.do_update_known_error(known_error=k, actor=org.mail_ops_agent,
                                       changes={"workaround": "Raise the quota", "keywords": "inbox"})  # fmt: skip
        k.refresh_from_db()
        assert "inbox" in k.search_text.split()
        assert types(k)[-2:] == ["updated", "workaround_published"]


class TestPublicationAndMatching:
    def test_only_published_and_not_closed_match(self, org: Org) -> None:
        k = ke(org)
        assert [m.known_error for m in match("mailbox full")] == [k]
        services.do_withdraw_workaround(known_error=k, actor=org.mail_ops_agent, reason="harmful")
        assert match("mailbox full") == []
        services.do_publish_workaround(known_error=k, actor=org.mail_ops_agent, audience="portal")
        assert [m.known_error for m in match("mailbox full", portal_only=True)] == [k]
        services.do_close_known_error(known_error=k, actor=org.mail_ops_agent, reason="obsolete")
        assert match("mailbox full") == []
        assert types(k) == ["created", "workaround_published", "workaround_withdrawn",
                            "workaround_published", "closed"]  # fmt: skip

    def test_portal_only_sees_portal_workarounds(self, org: Org) -> None:
        ke(org)
        assert match("mailbox full", portal_only=True) == []

    def test_russian_stems_and_boosts_with_reasons(self, org: Org) -> None:
        quota = ke(org, configuration_items=[org.mail_server], services=[org.mail])
        other = ke(org, title="Почтовый ящик недоступен", symptoms="Общий ящик не открывается.")
        found = match("Не приходят письма, ящик переполнен", configuration_item=org.mail_server,
                      service=org.mail, technology=org.email)  # fmt: skip
        assert [m.known_error for m in found] == [quota, other]
        best = found[0]
        assert best.reasons[0].startswith("matched 2 of")
        assert "same configuration item: mail-01" in best.reasons
        assert "same service: E-mail" in best.reasons and "same technology: E-mail" in best.reasons
        assert best.score == pytest.approx(best.text_score + 0.3 + 0.15 + 0.1)

    def test_error_code_matches_without_words(self, org: Org) -> None:
        export = ke(org, title="Payroll export fails", symptoms="Export to the bank fails.",
                    error_codes=["E-1042"])  # fmt: skip
        found = match("zzz", error_code="e 1042")
        assert [m.known_error for m in found] == [export]
        assert found[0].reasons == ["same error code: E-1042"]
        assert match("the export says E1042")[0].known_error == export

    def test_rare_words_outrank_common_ones(self, org: Org) -> None:
        for n in range(6):
            ke(org, title=f"Mail problem {n}", symptoms=f"E-mail cannot be sent variant {n}")
        spooler = ke(
            org, title="Print spooler hangs", symptoms="Mail merge print jobs hang in the spooler"
        )
        assert match("mail spooler")[0].known_error == spooler

    def test_statistics_follow_changes_and_rebuild_agrees(self, org: Org) -> None:
        a = ke(org)
        ke(org, title="VPN drops", symptoms="VPN disconnects every ten minutes")
        services.do_withdraw_workaround(known_error=a, actor=org.mail_ops_agent)
        incremental = dict(
            TermStatistic.objects.filter(documents__gt=0).values_list("stem", "documents")
        )
        totals = dict(IndexStatistic.objects.values_list("name", "value"))
        assert totals["documents"] == 1 and incremental["vpn"] == 1 and "ящик" not in incremental
        assert search.rebuild() == 1
        assert dict(TermStatistic.objects.values_list("stem", "documents")) == incremental
        assert dict(IndexStatistic.objects.values_list("name", "value")) == totals
        assert [m.known_error.title for m in match("vpn")] == ["VPN drops"]


class TestApplyWorkaround:
    def test_first_line_resolves_by_known_error(self, org: Org) -> None:
        k = ke(org)
        i = incident(org)
        link = services.do_apply_workaround(incident=i, known_error=k, actor=org.desk_agent)
        i.refresh_from_db()
        assert (i.status, i.resolution_code) == ("resolved", "known_error")
        assert k.number in i.resolution and link.resolved
        types_ = list(IncidentEvent.objects.filter(incident=i).values_list("type", flat=True))
        assert types_[-2:] == ["known_error_applied", "resolved"]
        assert types(k)[-1] == "workaround_applied"
        with pytest.raises(Conflict):
            services.do_apply_workaround(incident=i, known_error=k, actor=org.desk_agent)

    def test_without_resolving_and_problem_link(self, org: Org) -> None:
        p = problem_services.do_create_problem(
            actor=org.problem_manager, title="Quota", service=org.mail
        )
        problem_services.do_start_investigation(problem=p, actor=org.problem_manager)
        problem_services.do_record_root_cause(
            problem=p, actor=org.problem_manager, root_cause="Quota"
        )
        problem_services.do_publish_workaround(
            problem=p, actor=org.problem_manager, workaround="Archive"
        )
        k = p.known_errors.get()
        i = incident(org)
        services.do_apply_workaround(incident=i, known_error=k, actor=org.desk_agent, resolve=False)
        i.refresh_from_db()
        assert i.status == "new"
        assert ProblemIncident.objects.get(incident=i).problem == p

    def test_unpublished_and_permissions(self, org: Org) -> None:
        draft = ke(org, workaround="", audience="unpublished")
        i = incident(org)
        with pytest.raises(Conflict):
            services.do_apply_workaround(incident=i, known_error=draft, actor=org.desk_agent)
        k = ke(org)
        with pytest.raises(PermissionDenied):
            services.do_apply_workaround(incident=i, known_error=k, actor=org.reporter)


class TestLifeCycle:
    def test_close_tells_linked_open_incidents_and_closes_the_problem(self, org: Org) -> None:
        p = problem_services.do_create_problem(
            actor=org.problem_manager, title="Quota", service=org.mail
        )
        waiting = incident(org)
        problem_services.do_link_incident(
            problem=p, incident=waiting, actor=org.problem_manager, set_pending=True
        )
        problem_services.do_start_investigation(problem=p, actor=org.problem_manager)
        problem_services.do_record_root_cause(
            problem=p, actor=org.problem_manager, root_cause="Quota"
        )
        problem_services.do_publish_workaround(
            problem=p, actor=org.problem_manager, workaround="Archive"
        )
        k = p.known_errors.get()
        applied = incident(org)
        services.do_apply_workaround(
            incident=applied, known_error=k, actor=org.desk_agent, resolve=False
        )
        done = incident(org)
        services.do_apply_workaround(incident=done, known_error=k, actor=org.desk_agent)
        fix = fixes.do_create_fix_project(actor=org.mail_ops_agent, known_error=k, title="Bigger DB",
                                          change_ref="CHG-7")  # fmt: skip
        fixes.do_change_fix_status(fix_project=fix, actor=org.problem_manager, status="approved")
        fixes.do_change_fix_status(fix_project=fix, actor=org.mail_engineer, status="in_progress")
        fixes.do_change_fix_status(fix_project=fix, actor=org.mail_engineer, status="implemented")
        k.refresh_from_db()
        assert k.status == Status.FIXED and k.fixed_at
        services.do_close_known_error(known_error=k, actor=org.mail_ops_agent, close_problem=True)
        told = IncidentEvent.objects.filter(type="known_error_closed")
        assert sorted(told.values_list("incident_id", flat=True)) == sorted(
            [waiting.pk, applied.pk]
        )
        assert told.first().payload["change_refs"] == ["CHG-7"]  # type: ignore[union-attr]
        assert told.first().payload["outcome"] == "fixed"  # type: ignore[union-attr]
        p.refresh_from_db()
        assert p.status == "closed"
        assert types(k)[-4:] == ["workaround_applied", "fix_started", "fixed", "closed"]
        closed = KnownErrorEvent.objects.get(known_error=k, type="closed")
        assert closed.payload["incidents_told"] == 2 and closed.payload["problem_closed"] is True

    def test_status_table(self, org: Org) -> None:
        k = ke(org)
        with pytest.raises(IllegalTransition):
            services.do_set_status(known_error=k, actor=org.mail_ops_agent, status="fixed")
        with pytest.raises(FieldError):
            services.do_set_status(known_error=k, actor=org.mail_ops_agent, status="accepted")
        services.do_set_status(
            known_error=k, actor=org.mail_ops_agent, status="accepted", reason="rare"
        )
        services.do_set_status(known_error=k, actor=org.mail_ops_agent, status="fix_in_progress")
        services.do_set_status(known_error=k, actor=org.mail_ops_agent, status="open")
        with pytest.raises(FieldError):
            services.do_close_known_error(known_error=k, actor=org.mail_ops_agent)
        assert types(k)[-3:] == ["accepted", "fix_started", "status_changed"]


class TestFixProjects:
    @pytest.mark.parametrize("status", list(FIX_TRANSITIONS))
    def test_transition_table(self, org: Org, status: str) -> None:
        path = {"proposed": [], "approved": ["approved"], "in_progress": ["approved", "in_progress"],
                "implemented": ["approved", "in_progress", "implemented"], "cancelled": ["cancelled"]}  # fmt: skip
        for target in FIX_TRANSITIONS:
            fix = fixes.do_create_fix_project(
                actor=org.mail_ops_agent, known_error=ke(org), title="Fix"
            )
            for step in path[status]:
                fixes.do_change_fix_status(fix_project=fix, actor=org.problem_manager, status=step,
                                           reason="no budget")  # fmt: skip
            if target in FIX_TRANSITIONS[status]:
                fixes.do_change_fix_status(fix_project=fix, actor=org.problem_manager, status=target,
                                           reason="no budget")  # fmt: skip
            else:
                with pytest.raises(IllegalTransition):
                    fixes.do_change_fix_status(fix_project=fix, actor=org.problem_manager,
                                               status=target, reason="x")  # fmt: skip

    def test_approval_is_a_managers_decision_and_cancel_reopens(self, org: Org) -> None:
        k = ke(org)
        fix = fixes.do_create_fix_project(actor=org.mail_ops_agent, known_error=k, title="Fix",
                                          cost_estimate=Decimal("1200.50"))  # fmt: skip
        with pytest.raises(PermissionDenied):
            fixes.do_change_fix_status(fix_project=fix, actor=org.mail_ops_agent, status="approved")
        fixes.do_change_fix_status(fix_project=fix, actor=org.problem_manager, status="approved")
        fixes.do_change_fix_status(fix_project=fix, actor=org.mail_engineer, status="in_progress")
        fix.refresh_from_db()
        assert fix.actual_start == timezone.now().date()
        k.refresh_from_db()
        assert k.status == Status.FIX_IN_PROGRESS
        with pytest.raises(FieldError):
            fixes.do_change_fix_status(
                fix_project=fix, actor=org.problem_manager, status="cancelled"
            )
        fixes.do_change_fix_status(fix_project=fix, actor=org.problem_manager, status="cancelled",
                                   reason="vendor fixes it")  # fmt: skip
        k.refresh_from_db()
        assert k.status == Status.OPEN
        events = list(
            FixProjectEvent.objects.filter(fix_project=fix).values_list("type", flat=True)
        )
        assert events == ["created", "status_changed", "status_changed", "status_changed"]

    def test_update_validates(self, org: Org) -> None:
        fix = fixes.do_create_fix_project(
            actor=org.mail_ops_agent, known_error=ke(org), title="Fix"
        )
        with pytest.raises(FieldError):
            fixes.do_update_fix_project(fix_project=fix, actor=org.mail_ops_agent,
                                        changes={"planned_start": timezone.now().date(),
                                                 "planned_end": timezone.now().date() - timedelta(days=1)})  # fmt: skip
        fixes.do_update_fix_project(
            fix_project=fix, actor=org.mail_ops_agent, changes={"priority": 1}
        )
        fix.refresh_from_db()
        assert fix.priority == 1 and fix.version == 2


class TestMonitoring:
    def test_rising_rate_is_flagged_once(self, org: Org) -> None:
        k = ke(org)
        now = timezone.now()
        # Baseline: one incident a week for four weeks; then five in the last week.
        moments = [now - timedelta(days=d) for d in (8, 15, 22, 29)] + [
            now - timedelta(days=d, hours=1) for d in range(5)
        ]
        for moment in moments:
            with time_machine.travel(moment, tick=False):
                services.do_apply_workaround(
                    incident=incident(org), known_error=k, actor=org.desk_agent
                )
        trend = monitoring.trend(k, now)
        assert [w[2] for w in trend.windows] == [1, 1, 1, 1, 5]
        assert trend.recent == 5 and trend.baseline == 1.0 and trend.rising
        assert monitoring.do_update_rate_flags(now) == [k.pk]
        assert monitoring.do_update_rate_flags(now) == []  # flagged once
        k.refresh_from_db()
        assert k.rate_rising and types(k).count("rate_rising") == 1
        later = now + timedelta(days=21)
        monitoring.do_update_rate_flags(later)
        k.refresh_from_db()
        assert not k.rate_rising
