"""The BPI Challenge 2013 (Volvo IT, VINST) incident log as replayable cases.

The file: ``;``-separated, ISO-8859-1, CRLF, one row per change of a service
request, ordered by time within each request. How its fields become ours
(docs/reports.md has the full table):

- ``Involved ST`` is the holding group; the suffix `` 2nd`` / `` 3rd`` (the last
  word of the name) marks the 2nd / 3rd line, none the 1st line;
- Accepted/In Progress -> in_progress; Accepted/Assigned and Queued/Awaiting
  Assignment -> assigned; Wait - User, Wait - Customer and Wait -> pending on
  the user; Wait - Vendor -> pending on a vendor; Wait - Implementation ->
  pending on a fix (awaiting_problem); Completed/Resolved and Completed/In Call
  -> resolved; Completed/Closed -> closed when it is the request's last
  completion, else resolved (the log goes on after it); Completed/Cancelled
  -> cancelled; Unmatched -> no status change;
- ``SR Latest Impact`` Major/High/Medium/Low -> severity 1/2/3/4; ``Product`` ->
  service; ``Involved ST Function Div`` of the first row -> technology;
  ``Country`` -> user group.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from .replay import Case, Change

INCIDENTS_MEMBER = "VINST cases incidents.csv"
SEVERITY = {"Major": 1, "High": 2, "Medium": 3, "Low": 4}
STATUS = {
    ("Accepted", "In Progress"): ("in_progress", ""),
    ("Accepted", "Assigned"): ("assigned", ""),
    ("Queued", "Awaiting Assignment"): ("assigned", ""),
    ("Accepted", "Wait - User"): ("pending", "awaiting_user"),
    ("Accepted", "Wait - Customer"): ("pending", "awaiting_user"),
    ("Accepted", "Wait"): ("pending", "awaiting_user"),
    ("Accepted", "Wait - Vendor"): ("pending", "awaiting_vendor"),
    ("Accepted", "Wait - Implementation"): ("pending", "awaiting_problem"),
    ("Completed", "Resolved"): ("resolved", ""),
    ("Completed", "In Call"): ("resolved", ""),
    ("Completed", "Closed"): ("closed", ""),
    ("Completed", "Cancelled"): ("cancelled", ""),
}
REF_PREFIX = "bpic2013:"


def line_of(team: str) -> int:
    """The support level a team name marks: `` 2nd`` -> 2, `` 3rd`` -> 3, else 1."""
    last = team.rsplit(" ", 1)[-1] if " " in team else ""
    return {"2nd": 2, "3rd": 3}.get(last, 1)


def open_text(path: Path) -> io.TextIOBase:
    """The incidents CSV, from the zip or the CSV itself, decoded from ISO-8859-1."""
    if zipfile.is_zipfile(path):
        archive = zipfile.ZipFile(path)
        name = next((n for n in archive.namelist() if n.endswith(INCIDENTS_MEMBER)), None)
        if name is None:
            raise ValueError(f"{path}: no {INCIDENTS_MEMBER!r} in the archive")
        return io.TextIOWrapper(archive.open(name), encoding="iso-8859-1", newline="")
    return open(path, encoding="iso-8859-1", newline="")


def read(path: Path) -> Iterator[Case]:
    """One case per service request, in file order."""
    with open_text(path) as handle:
        reader = csv.DictReader(handle, delimiter=";")
        current: list[dict[str, str]] = []
        for row in reader:
            if current and row["SR Number"] != current[0]["SR Number"]:
                yield _case(current)
                current = []
            current.append(row)
        if current:
            yield _case(current)


def _case(rows: list[dict[str, str]]) -> Case:
    first, last = rows[0], rows[-1]
    reopened_after = [
        any(r["Status"] != "Completed" for r in rows[i + 1 :]) for i in range(len(rows))
    ]
    changes = []
    for index, row in enumerate(rows):
        status, reason = STATUS.get((row["Status"], row["Sub Status"]), (None, ""))
        if status == "closed" and reopened_after[index]:
            status = "resolved"  # the log goes on: this closure was not final
        team = row["Involved ST"].strip()
        changes.append(
            Change(
                at=datetime.fromisoformat(row["Change Date+Time"]),
                status=status,
                group=team,
                level=line_of(team),
                pending_reason=reason,
            )
        )
    number = first["SR Number"]
    return Case(
        ref=REF_PREFIX + number,
        title=f"VINST {number} ({first['Product']})",
        severity=SEVERITY.get(last["SR Latest Impact"], 3),
        changes=changes,
        service=first["Product"],
        technology=first["Involved ST Function Div"],
        user_group=first["Country"],
    )
