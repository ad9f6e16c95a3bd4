"""Every incident figure, hand-computed on the story incident (see story.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine

from servicedesk.reports import facts, pending
from servicedesk.reports.models import IncidentFact, IncidentGroupFact, PendingFact
from servicedesk.reports.tasks import capture_restoration_notices
from servicedesk.testing.org import Org

from . import story

MARCH = {"from": "2025-03-01", "to": "2025-03-31"}


@pytest.fixture(autouse=True)
def _calendar(settings: Any) -> None:
    settings.SERVICEDESK_REPORTS_TIME_ZONE = "UTC"
    settings.SERVICEDESK_REPORTS_BUSINESS_HOURS = "09:00-18:00"
    settings.SERVICEDESK_REPORTS_HOLIDAYS = ""
    settings.SERVICEDESK_REPORTS_TARGET_HOURS = ""


def fetch(api: Any, user: Any, slug: str, **params: Any) -> dict[str, Any]:
    response = api(user).get(f"/reports/{slug}", **{**MARCH, **params})
    assert response.status_code == 200, response.content
    return response.json()


def rows(body: dict[str, Any], table: str) -> list[dict[str, Any]]:
    return next(t["rows"] for t in body["tables"] if t["key"] == table)


def by_name(items: list[dict[str, Any]], key: str = "group") -> dict[str, dict[str, Any]]:
    return {row[key]["name"]: row for row in items}


@pytest.fixture
def incident(org: Org) -> Any:
    return story.build(org)


def test_counts_by_month_and_quarter(api: Any, org: Org, incident: Any) -> None:
    body = fetch(api, org.desk_manager, "incidents-by-period", **{"from": "2025-02-01"})
    assert rows(body, "by_month") == [
        {"month": "2025-02", "opened": 0, "resolved": 0},
        {"month": "2025-03", "opened": 1, "resolved": 1},
    ]
    assert rows(body, "by_quarter") == [{"quarter": "2025-Q1", "opened": 1, "resolved": 1}]


def test_transferred_to_and_resolved_at_each_level(api: Any, org: Org, incident: Any) -> None:
    levels = {
        r["support_level"]: r
        for r in rows(fetch(api, org.desk_manager, "incidents-by-level"), "by_level")
    }
    assert [levels[n]["received"] for n in (1, 2, 3)] == [1, 1, 1]
    assert [levels[n]["resolved"] for n in (1, 2, 3)] == [0, 0, 1]
    # 1st line: 0% of all against 80%; 2nd: 0% of what it received against 75%; 3rd: 100%.
    assert levels[1]["resolved_share_of_all"] == 0.0 and levels[1]["target_met"] is False
    assert levels[2]["resolved_share_of_received"] == 0.0 and levels[2]["target_met"] is False
    assert levels[3]["resolved_share_of_received"] == 1.0 and levels[3]["target_met"] is True
    assert levels[2]["transferred_onwards"] == 1


def test_mean_time_per_group_and_level(api: Any, org: Org, incident: Any) -> None:
    body = fetch(api, org.desk_manager, "time-per-group")
    groups = by_name(rows(body, "by_group"))
    assert groups["Service Desk"]["mean_hours"] == 1.0
    assert groups["Service Desk"]["mean_business_hours"] == 0.0
    assert groups["Network Operations"]["mean_hours"] == 5.0
    assert groups["Network Operations"]["mean_business_hours"] == 5.0
    assert groups["Network Engineering"]["mean_hours"] == 3.0
    assert groups["Network Engineering"]["mean_business_hours"] == 3.0
    assert {g: r["incidents"] for g, r in groups.items()} == {
        "Service Desk": 1, "Network Operations": 1, "Network Engineering": 1,
    }  # fmt: skip
    levels = {r["support_level"]: r["mean_hours"] for r in rows(body, "by_level")}
    assert levels == {1: 1.0, 2: 5.0, 3: 3.0}
    # The level filter picks the holding groups of that level.
    only_second = fetch(api, org.desk_manager, "time-per-group", support_level=2)
    assert list(by_name(rows(only_second, "by_group"))) == ["Network Operations"]


def test_mean_time_to_restore(api: Any, org: Org, incident: Any) -> None:
    body = fetch(api, org.desk_manager, "mttr")
    assert rows(body, "by_severity") == [
        {"severity": 3, "resolved": 1, "mean_hours": 9.0, "mean_business_hours": 8.0,
         "mean_net_hours": 7.0, "target_hours": 8.0},
    ]  # fmt: skip
    assert body["summary"]["mean_hours"] == 9.0


def test_resolved_within_target(api: Any, org: Org, incident: Any) -> None:
    body = fetch(api, org.desk_manager, "resolved-in-target")
    (row,) = rows(body, "by_severity")
    # 9 h open, 2 h of it paused on a vendor: 7 h against 8 h.
    assert (row["resolved"], row["within_target"], row["missed"], row["share"]) == (1, 1, 0, 1.0)
    assert row["with_deadline"] == 0


def test_resolve_by_deadline_wins_over_the_table(api: Any, org: Org, incident: Any) -> None:
    from servicedesk.incidents.models import Incident

    # The SLA engine set a deadline before the final resolution (18:00): missed.
    Incident.objects.filter(pk=incident.pk).update(resolve_by=story.at(17))
    facts.refresh([incident.pk])
    (row,) = rows(fetch(api, org.desk_manager, "resolved-in-target"), "by_severity")
    assert (row["within_target"], row["missed"], row["with_deadline"]) == (0, 1, 1)


def test_by_technology_and_user_group(api: Any, org: Org, incident: Any) -> None:
    tech = rows(fetch(api, org.desk_manager, "incidents-by-technology"), "by_technology")
    assert tech == [{"technology": {"id": org.network.pk, "name": "Network"}, "opened": 1,
                     "open_now": 0, "resolved": 1}]  # fmt: skip
    users = rows(fetch(api, org.desk_manager, "incidents-by-user-group"), "by_user_group")
    assert users == [{"user_group": {"id": org.finance.pk, "name": "Finance"}, "opened": 1,
                      "open_now": 0, "resolved": 1}]  # fmt: skip


def test_satisfaction_and_restoration_notice(api: Any, org: Org, incident: Any) -> None:
    body = fetch(api, org.desk_manager, "satisfaction")
    groups = by_name(rows(body, "by_group"))
    assert groups == {"Network Engineering": {
        "group": {"id": org.net_eng.pk, "name": "Network Engineering"}, "support_level": 3,
        "resolved": 1, "rated": 1, "mean_rating": 4.0}}  # fmt: skip
    assert rows(body, "by_level") == [
        {"support_level": 3, "resolved": 1, "rated": 1, "mean_rating": 4.0}
    ]
    # The communications app's default rule told the reporter of the (final) resolution.
    assert rows(body, "notification") == [{"resolved": 1, "notified": 1, "share": 1.0}]
    # Captured: the figure survives the outbox pruning its delivered rows.
    from servicedesk.core.models import OutboxMessage

    OutboxMessage.objects.all().delete()
    facts.refresh([incident.pk])
    assert fetch(api, org.desk_manager, "satisfaction")["summary"]["notified_share"] == 1.0


def test_open_now_while_paused_at_the_second_line(api: Any, org: Org) -> None:
    story.build(org, until=story.at(11))
    with time_machine.travel(story.at(12, 30), tick=False):
        body = fetch(api, org.desk_manager, "incidents-open")
    assert rows(body, "by_severity") == [{"severity": 3, "open": 1}]
    elapsed = {r["bucket"]: (r["calendar"], r["business"]) for r in rows(body, "by_elapsed")}
    # 4.5 h since registration, 3.5 h of it in business hours.
    assert elapsed["4-8 h"] == (1, 0) and elapsed["1-4 h"] == (0, 1)
    assert sum(c for c, _ in elapsed.values()) == 1
    (group,) = rows(body, "by_group")
    assert (group["group"]["name"], group["support_level"], group["open"]) == (
        "Network Operations", 2, 1,
    )  # fmt: skip


def test_open_now_after_reopening(api: Any, org: Org) -> None:
    story.build(org, until=story.at(16))
    with time_machine.travel(story.at(17), tick=False):
        body = fetch(api, org.desk_manager, "incidents-open", group=org.net_eng.pk)
        assert body["summary"]["open"] == 1
        assert rows(body, "by_group")[0]["group"]["name"] == "Network Engineering"
        assert fetch(api, org.desk_manager, "incidents-open", group=org.net_ops.pk)["summary"] == {
            "open": 0
        }
        # Not resolved now: no resolution figure counts it.
        assert fetch(api, org.desk_manager, "mttr")["summary"]["resolved"] == 0


def test_filters_select_the_incident(api: Any, org: Org, incident: Any) -> None:
    def resolved(**params: Any) -> int:
        return fetch(api, org.desk_manager, "mttr", **params)["summary"]["resolved"]

    assert resolved() == 1
    assert resolved(severity=3) == 1 and resolved(severity=[1, 2]) == 0
    assert resolved(service=org.internet.pk) == 1 and resolved(service=org.mail.pk) == 0
    assert resolved(technology=org.network.pk) == 1 and resolved(technology=org.email.pk) == 0
    assert resolved(user_group=org.finance.pk) == 1 and resolved(user_group=org.sales.pk) == 0
    assert resolved(group=org.net_ops.pk) == 1 and resolved(group=org.mail_ops.pk) == 0
    assert resolved(support_level=3) == 1
    assert resolved(**{"from": "2025-04-01", "to": "2025-04-30"}) == 0


def test_rebuild_gives_the_facts_the_changes_kept(org: Org, incident: Any) -> None:
    def snapshot() -> tuple[list[Any], list[Any]]:
        fact: list[dict[str, Any]] = [
            {k: v for k, v in row.items() if k != "computed_at"}
            for row in IncidentFact.objects.values().order_by("incident_id")
        ]
        groups: list[dict[str, Any]] = [
            {k: v for k, v in row.items() if k != "id"}
            for row in IncidentGroupFact.objects.values().order_by("incident_id", "group_id")
        ]
        return fact, groups

    pending.catch_up()
    kept = snapshot()
    IncidentFact.objects.all().delete()
    assert facts.rebuild() == 1
    assert snapshot() == kept


def test_late_events_land_where_they_belong(api: Any, org: Org, incident: Any) -> None:
    """An integration reports, after closure, that the incident waited on the user from
    16:30 to 17:00: the figures move exactly by that half hour."""
    from django.db import transaction

    from servicedesk.core import clock
    from servicedesk.incidents.services import append_event

    with transaction.atomic():
        for moment, status_from, status_to, reason in (
            (story.at(16, 30), "in_progress", "pending", "awaiting_user"),
            (story.at(17), "pending", "in_progress", ""),
        ):
            with clock.frozen_at(moment):
                append_event(
                    incident, "status_changed", actor=None,
                    payload={"status_from": status_from, "status_to": status_to,
                             "pending_reason": reason},
                )  # fmt: skip
    (row,) = rows(fetch(api, org.desk_manager, "mttr"), "by_severity")
    assert (row["mean_hours"], row["mean_net_hours"]) == (9.0, 6.5)
    kept = IncidentFact.objects.values("sla_paused_seconds", "restore_seconds").get()
    facts.rebuild()
    assert IncidentFact.objects.values("sla_paused_seconds", "restore_seconds").get() == kept


def _cells() -> list[tuple[Any, ...]]:
    from servicedesk.reports.models import MonthlyCount

    return sorted(
        MonthlyCount.objects.filter(n__gt=0).values_list(
            "kind", "month", "severity", "service", "technology", "user_group", "reached", "n"
        )
    )


def test_monthly_counts_follow_a_resolution_into_the_next_month(api: Any, org: Org) -> None:
    from servicedesk.incidents import services as s
    from servicedesk.reports import rollup

    story.build(org)
    with time_machine.travel(story.at(23, 30, day=31), tick=False):
        other = s.do_create_incident(
            actor=org.desk_agent, title="Mail down", reporter=org.reporter2
        )
        s.do_resolve(incident=other, actor=org.desk_agent, resolution_code="other", resolution="ok")
    body = fetch(api, org.desk_manager, "incidents-by-period", **{"to": "2025-04-30"})
    assert [(r["month"], r["opened"], r["resolved"]) for r in rows(body, "by_month")] == [
        ("2025-03", 2, 2), ("2025-04", 0, 0),
    ]  # fmt: skip
    with time_machine.travel(datetime(2025, 4, 1, 0, 10, tzinfo=UTC), tick=False):
        s.do_reopen(incident=other.pk, actor=org.reporter2)
    with time_machine.travel(datetime(2025, 4, 1, 1, 0, tzinfo=UTC), tick=False):
        s.do_resolve(incident=other.pk, actor=org.desk_agent, resolution_code="other",
                     resolution="really")  # fmt: skip
    body = fetch(api, org.desk_manager, "incidents-by-period", **{"to": "2025-04-30"})
    assert [(r["month"], r["opened"], r["resolved"]) for r in rows(body, "by_month")] == [
        ("2025-03", 2, 1), ("2025-04", 0, 1),
    ]  # fmt: skip
    # Filters on the monthly counts: severity and the level reached.
    reached_third_line = fetch(api, org.desk_manager, "incidents-by-period", support_level=3,
                            **{"to": "2025-04-30"})  # fmt: skip
    assert [r["resolved"] for r in rows(reached_third_line, "by_month")] == [1, 0]
    # A period cutting March counts it on the facts: the same figures.
    cut = fetch(
        api, org.desk_manager, "incidents-by-period", **{"from": "2025-03-02", "to": "2025-04-30"}
    )
    assert [(r["opened"], r["resolved"]) for r in rows(cut, "by_month")] == [(2, 1), (0, 1)]
    kept = _cells()
    rollup.rebuild()
    assert _cells() == kept


def test_a_change_costs_the_reports_one_statement_and_a_batch_a_pinned_number(
    org: Org, django_assert_num_queries: Any, django_assert_max_num_queries: Any
) -> None:
    """A change only marks its incident (one upsert in its transaction); the worker
    recomputes marked incidents in batches whose queries do not grow with their
    size. (A refresh: incident, events, spans, old facts, group facts out, facts
    upserted, group facts in; for a resolved incident also its restoration notices.)"""
    open_one = story.build(org, until=story.at(11))
    closed = story.build(org)
    pending.catch_up()
    with django_assert_num_queries(1):
        pending.mark([open_one.pk])
    with django_assert_max_num_queries(7):
        facts.refresh([open_one.pk])
    with django_assert_max_num_queries(8):
        facts.refresh([closed.pk])
    others = [story.build(org).pk for _ in range(3)]
    pending.catch_up()
    for batch in ([open_one.pk], [open_one.pk, closed.pk, *others]):
        pending.mark(batch)
        # Any marks? The marks locked, the refresh, the monthly counts, the marks removed.
        with django_assert_max_num_queries(14):
            assert pending.refresh_pending() == len(batch)
    assert not PendingFact.objects.exists()


def test_changes_mark_the_worker_recomputes_and_reports_catch_up(api: Any, org: Org) -> None:
    from servicedesk.core.worker import Worker
    from servicedesk.incidents import services as s

    incident = story.build(org, until=story.at(15, 1))  # resolved once
    assert PendingFact.objects.filter(incident_id=incident.pk).exists()
    assert not IncidentFact.objects.exists()  # behind, until someone catches up
    body = fetch(api, org.desk_manager, "incidents-by-period")
    assert body["summary"] == {"opened": 1, "resolved": 1}  # caught up before it read
    assert not PendingFact.objects.exists()
    with time_machine.travel(story.at(15, 30), tick=False):
        s.do_add_comment(incident=incident.pk, actor=org.net_engineer, body="ok", public=True)
    assert not PendingFact.objects.exists()  # a comment moves no figure
    with time_machine.travel(story.at(16), tick=False):
        s.do_reopen(incident=incident.pk, actor=org.reporter, reason="Down again")
    assert PendingFact.objects.filter(incident_id=incident.pk).exists()
    assert Worker(name="test").run_drains_once() == 1
    assert not PendingFact.objects.exists()
    assert IncidentFact.objects.values_list("reopen_count", "is_open").get() == (1, True)


def test_a_change_during_the_recomputation_keeps_its_mark(
    org: Org, incident: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A change that commits while a batch computes (simulated: it marks the incident
    again from inside the batch) leaves the mark, so the incident is done again."""
    real = facts.refresh

    def refresh_while_a_change_lands(ids: Any) -> int:
        done = real(ids)
        pending.mark([incident.pk])
        return done

    pending.catch_up()
    pending.mark([incident.pk])
    monkeypatch.setattr(facts, "refresh", refresh_while_a_change_lands)
    assert pending.refresh_pending() == 1
    assert PendingFact.objects.get(incident_id=incident.pk).seq == 2
    monkeypatch.setattr(facts, "refresh", real)
    assert pending.refresh_pending() == 1
    assert not PendingFact.objects.exists()


def test_deleting_an_incident_takes_its_monthly_counts(api: Any, org: Org, incident: Any) -> None:
    from servicedesk.incidents.models import Incident

    Incident.objects.filter(pk=incident.pk).delete()
    assert _cells() == []
    body = fetch(api, org.desk_manager, "incidents-by-period")
    assert body["summary"] == {"opened": 0, "resolved": 0}


def test_restoration_notice_missing_when_no_rule_tells_the_reporter(api: Any, org: Org) -> None:
    from servicedesk.notifications.models import NotificationRule

    NotificationRule.objects.update(active=False)
    incident = story.build(org)
    body = fetch(api, org.desk_manager, "satisfaction")
    assert rows(body, "notification") == [{"resolved": 1, "notified": 0, "share": 0.0}]
    with time_machine.travel(story.at(18, 5), tick=False):
        story.tell_reporter(incident)
        capture_restoration_notices()
    body = fetch(api, org.desk_manager, "satisfaction")
    assert rows(body, "notification") == [{"resolved": 1, "notified": 1, "share": 1.0}]
