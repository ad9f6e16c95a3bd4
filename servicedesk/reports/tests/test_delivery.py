"""Exports, charts, access, scheduled e-mails and the generic event-log import."""

from __future__ import annotations

import base64
import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
import time_machine
from django.core.management import call_command
from openpyxl import load_workbook

from servicedesk.core.models import OutboxMessage
from servicedesk.incidents.models import Incident
from servicedesk.reports import pending, registry, services
from servicedesk.reports.models import ScheduledReport
from servicedesk.reports.tasks import send_scheduled_reports
from servicedesk.testing.org import Org

from . import story

MARCH = {"from": "2025-03-01", "to": "2025-03-31"}
INCIDENT_SLUGS = [
    "incidents-open", "incidents-by-period", "incidents-by-level", "time-per-group", "mttr",
    "resolved-in-target", "incidents-by-technology", "incidents-by-user-group", "satisfaction",
]  # fmt: skip


@pytest.fixture(autouse=True)
def _calendar(settings: Any) -> None:
    settings.SERVICEDESK_REPORTS_TIME_ZONE = "UTC"
    settings.SERVICEDESK_REPORTS_HOLIDAYS = ""


def test_every_incident_slug_is_registered() -> None:
    assert set(INCIDENT_SLUGS) <= set(registry.all_reports())


@pytest.mark.parametrize("slug", INCIDENT_SLUGS)
def test_each_format_of_each_report(api: Any, org: Org, slug: str) -> None:
    story.build(org)
    client = api(org.desk_manager)
    body = client.get(f"/reports/{slug}", **MARCH).json()
    assert body["slug"] == slug and body["params"]["from"] == "2025-03-01"

    text = client.get(f"/reports/{slug}.csv", **MARCH)
    assert text.status_code == 200 and text["Content-Type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(text.content.decode())))
    first = body["tables"][0]
    assert lines[0] == [f"# {first['title']}"]
    assert lines[1] == [c["label"] for c in first["columns"]]
    assert len([line for line in lines if line]) == sum(len(t["rows"]) + 2 for t in body["tables"])

    book = client.get(f"/reports/{slug}.xlsx", **MARCH)
    assert book.status_code == 200
    sheets = load_workbook(io.BytesIO(book.content))
    sheet = sheets[sheets.sheetnames[0]]
    assert sheet.max_row == len(first["rows"]) + 1
    assert [c.value for c in sheet[1]] == [c["label"] for c in first["columns"]]
    assert "Parameters" in sheets.sheetnames

    chart = client.get(f"/reports/{slug}.svg", **MARCH)
    assert chart.status_code == 200 and chart["Content-Type"].startswith("image/svg+xml")
    root = ElementTree.fromstring(chart.content)  # noqa: S314 (our own output)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"


def test_csv_of_one_table_and_its_values(api: Any, org: Org) -> None:
    story.build(org)
    text = api(org.desk_manager).get("/reports/time-per-group.csv", table="by_group", **MARCH)
    rows = list(csv.DictReader(io.StringIO(text.content.decode())))
    assert {r["Group"]: r["Mean hours"] for r in rows} == {
        "Service Desk": "1.0", "Network Operations": "5.0", "Network Engineering": "3.0",
    }  # fmt: skip
    bad = api(org.desk_manager).get("/reports/time-per-group.csv", table="nope", **MARCH)
    assert bad.status_code == 422


def test_chart_draws_one_bar_per_value(api: Any, org: Org) -> None:
    story.build(org)
    svg = api(org.desk_manager).get("/reports/time-per-group.svg", **MARCH).content
    root = ElementTree.fromstring(svg)  # noqa: S314 (our own output)
    ns = "{http://www.w3.org/2000/svg}"
    bars = [r for r in root.iter(f"{ns}rect") if r.find(f"{ns}title") is not None]
    # three groups x (calendar, business)
    assert len(bars) == 6
    heights = {str(b.findtext(f"{ns}title")): float(b.get("height") or "nan") for b in bars}
    assert (
        heights["Network Operations: Mean hours 5"]
        > heights["Network Engineering: Mean hours 3"]
        > 0
    )


def test_access_and_validation(api: Any, org: Org) -> None:
    assert api(org.reporter).get("/reports/mttr").status_code == 403
    assert api(None).get("/reports/mttr").status_code == 401
    client = api(org.desk_agent)
    assert client.get("/reports/nope").status_code == 404
    assert (
        client.get("/reports/mttr", **{"from": "2025-04-01", "to": "2025-03-01"}).status_code == 422
    )
    assert client.get("/reports/mttr", **{"from": "not-a-date"}).status_code == 422
    assert client.get("/reports/mttr", severity="x").status_code == 422
    assert client.get("/reports/mttr", support_level=4).status_code == 422
    listed = {r["slug"] for r in client.get("/reports").json()["items"]}
    assert set(INCIDENT_SLUGS) <= listed


def test_scheduled_report_is_queued_once_per_run(api: Any, org: Org) -> None:
    story.build(org)
    with time_machine.travel(datetime(2025, 4, 20, 12, tzinfo=UTC), tick=False):
        created = api(org.desk_manager).post("/report-schedules", {
            "name": "Monthly restoration", "report": "mttr", "frequency": "monthly",
            "format": "csv", "recipients": ["cio@example.com", "ops@example.com"],
            "filters": {"technology": org.network.pk},
        })  # fmt: skip
        assert created.status_code == 201, created.content
        assert created.json()["next_run_at"].startswith("2025-05-01T06:00")
        assert send_scheduled_reports() == "queued 0 messages"  # not due yet
    with time_machine.travel(datetime(2025, 5, 1, 6, 1, tzinfo=UTC), tick=False):
        assert send_scheduled_reports() == "queued 2 messages"
        assert send_scheduled_reports() == "queued 0 messages"
    messages = list(
        OutboxMessage.objects.filter(event_type="report.scheduled").order_by("destination")
    )
    assert [m.destination for m in messages] == ["cio@example.com", "ops@example.com"]
    payload = messages[0].payload
    # Last month: April 2025 has no resolution of the story (March): the period is right.
    assert payload["subject"] == "Mean time to restore service: 2025-04-01 to 2025-04-30"
    files = {a["filename"]: base64.b64decode(a["content_base64"]) for a in payload["attachments"]}
    assert set(files) == {"mttr.csv", "mttr.svg"}
    assert "Mean hours" in files["mttr.csv"].decode()
    schedule = ScheduledReport.objects.get()
    assert schedule.next_run_at == datetime(2025, 6, 1, 6, tzinfo=UTC)


def test_scheduled_report_of_march_carries_the_story(org: Org) -> None:
    story.build(org)
    with time_machine.travel(datetime(2025, 3, 20, tzinfo=UTC), tick=False):
        schedule = services.do_create_schedule(
            actor=org.desk_manager, name="March", report="time-per-group", format="xlsx",
            frequency="monthly", recipients=["cio@example.com"],
        )  # fmt: skip
    with time_machine.travel(datetime(2025, 4, 1, 7, tzinfo=UTC), tick=False):
        assert services.do_send_schedule(schedule_id=schedule.pk) == 1
    (message,) = OutboxMessage.objects.filter(event_type="report.scheduled")
    data = next(a for a in message.payload["attachments"] if a["filename"].endswith(".xlsx"))
    sheet = load_workbook(io.BytesIO(base64.b64decode(data["content_base64"]))).active
    assert sheet is not None
    values = {row[0]: row[3] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert values == {"Service Desk": 1.0, "Network Operations": 5.0, "Network Engineering": 3.0}


def test_schedules_need_a_manager_and_a_known_report(api: Any, org: Org) -> None:
    body = {"name": "x", "report": "mttr", "recipients": ["a@example.com"]}
    assert api(org.desk_agent).post("/report-schedules", body).status_code == 403
    unknown = api(org.desk_manager).post("/report-schedules", {**body, "report": "nope"})
    assert unknown.status_code == 422
    bad_filter = api(org.desk_manager).post(
        "/report-schedules", {**body, "filters": {"support_level": 7}}
    )
    assert bad_filter.status_code == 422
    assert (
        api(org.desk_manager)
        .post("/report-schedules", {**body, "recipients": ["nope"]})
        .status_code
        == 422
    )


LOG = """incident,at,status,group,level,pending_reason,title,severity,service,technology,user_group,satisfaction
T-1,2025-03-03T08:00:00+00:00,assigned,Service Desk,1,,Printer down,3,Printing,Workplace,Finance,
T-1,2025-03-03T09:00:00+00:00,in_progress,Imported Ops,2,,,,,,,
T-1,2025-03-03T10:00:00+00:00,pending,,,awaiting_user,,,,,,
T-1,2025-03-03T11:00:00+00:00,in_progress,,,,,,,,,
T-1,2025-03-03T12:00:00+00:00,resolved,,,,,,,,,
T-1,2025-03-03T13:00:00+00:00,in_progress,Imported Ops,,,,,,,,
T-1,2025-03-03T15:00:00+00:00,resolved,,,,,,,,,
T-1,2025-03-04T09:00:00+00:00,closed,,,,,,,,,5
T-2,2025-03-05T10:00:00+00:00,new,Service Desk,1,,Second,4,,,,
"""


def test_generic_event_log_import(tmp_path: Path, org: Org) -> None:
    path = tmp_path / "log.csv"
    path.write_text(LOG, encoding="utf-8")
    out = io.StringIO()
    call_command("import", "events", str(path), prefix="t:", stdout=out)
    assert "2 incidents imported" in out.getvalue()
    incident = Incident.objects.get(external_ref="t:T-1")
    assert (incident.status, incident.reopen_count, incident.satisfaction) == ("closed", 1, 5)
    assert incident.assigned_group is not None and incident.assigned_group.name == "Imported Ops"
    assert [e.type for e in incident.events.order_by("at", "id")] == [
        "created", "escalated", "status_changed", "status_changed", "resolved", "reopened",
        "resolved", "closed",
    ]  # fmt: skip
    # Open 08-12 and 13-15 (6 h), 1 h of it pending on the user; Ops held it 3 + 2 h.
    fact = incident.report_fact
    assert fact.restore_seconds == 6 * 3600 and fact.sla_paused_seconds == 3600
    assert fact.resolved_level == 2 and fact.satisfaction == 5
    held = {g.group.name: g.seconds for g in incident.report_group_facts.select_related("group")}
    assert held == {"Service Desk": 3600.0, "Imported Ops": 5 * 3600.0}
    again = io.StringIO()
    call_command("import", "events", str(path), prefix="t:", stdout=again)
    assert "0 incidents imported, 2 already there" in again.getvalue()


def test_event_log_errors_name_the_line(tmp_path: Path, db: None) -> None:
    from django.core.management.base import CommandError

    path = tmp_path / "bad.csv"
    path.write_text("incident,at,status\nA,2025-03-03T08:00:00Z,bogus\n", encoding="utf-8")
    with pytest.raises(CommandError, match="line 2: unknown status"):
        call_command("import", "events", str(path), stdout=io.StringIO())


def test_rebuild_command_recomputes_after_a_target_change(org: Org, settings: Any) -> None:
    incident = story.build(org)
    pending.catch_up()
    assert incident.report_fact.in_target is True
    settings.SERVICEDESK_REPORTS_TARGET_HOURS = "1:1,2:2,3:6,4:12"  # 7 h net > 6 h
    out = io.StringIO()
    call_command("reports", "rebuild", stdout=out)
    assert "done: 1 incidents" in out.getvalue()
    incident.report_fact.refresh_from_db()
    assert incident.report_fact.in_target is False
    assert incident.report_fact.target_seconds == 6 * 3600


def test_names_never_become_spreadsheet_formulas(api: Any, org: Org) -> None:
    story.build(org)
    type(org.net_eng).objects.filter(pk=org.net_eng.pk).update(name='=HYPERLINK("http://x")')
    client = api(org.desk_manager)
    text = client.get("/reports/satisfaction.csv", table="by_group", **MARCH).content.decode()
    assert "'=HYPERLINK" in text
    book = load_workbook(io.BytesIO(client.get("/reports/satisfaction.xlsx", **MARCH).content))
    cell = book[book.sheetnames[0]]["A2"]
    assert cell.value == '\'=HYPERLINK("http://x")' and cell.data_type == "s"


def test_period_is_bounded(api: Any, org: Org) -> None:
    client = api(org.desk_manager)
    too_long = client.get(
        "/reports/incidents-by-period", **{"from": "1900-01-01", "to": "2025-01-01"}
    )
    assert too_long.status_code == 422
    longest = client.get(
        "/reports/incidents-by-period", **{"from": "2005-02-01", "to": "2025-01-31"}
    )
    assert longest.status_code == 200 and len(longest.json()["tables"][0]["rows"]) == 240


def test_demo_schedules_are_idempotent(db: None) -> None:
    from servicedesk.core.demo import build_organisation
    from servicedesk.reports import demo

    org = build_organisation()
    demo.load(org)
    demo.load(org)
    assert ScheduledReport.objects.count() == 2
    assert all("cio@example.com" in s.recipient_list for s in ScheduledReport.objects.all())


def test_scheduled_open_incidents_are_as_of_the_run(org: Org) -> None:
    story.build(org, until=story.at(11))  # open, registered a week before the run
    with time_machine.travel(datetime(2025, 3, 10, 12, tzinfo=UTC), tick=False):
        schedule = services.do_create_schedule(
            actor=org.desk_manager, name="Open now", report="incidents-open", format="csv",
            frequency="daily", recipients=["desk@example.com"],
        )  # fmt: skip
    with time_machine.travel(datetime(2025, 3, 11, 6, 30, tzinfo=UTC), tick=False):
        assert services.do_send_schedule(schedule_id=schedule.pk) == 1
    (message,) = OutboxMessage.objects.filter(event_type="report.scheduled")
    assert message.payload["subject"] == "Open incidents: as of 2025-03-11 06:00"
    assert "open: 1" in message.payload["body"]
