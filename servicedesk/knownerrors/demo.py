"""Demo known errors registered directly (not from a problem): from change
management, vendor notes or the 2nd line's experience. Idempotent by title.
Known errors born from demo problems are created in ``problems/demo.py``."""

# ruff: noqa: RUF001  (Russian text is meant to be Cyrillic)

from __future__ import annotations

from typing import Any

from django.db import transaction

from servicedesk.core.demo import DemoOrg

from . import services
from .models import KnownError

KNOWN_ERRORS: list[dict[str, Any]] = [
    {
        "title": "CRM account locked after failed logins",
        "symptoms": "The user is locked out of CRM after several wrong passwords. / Учётная запись CRM заблокирована после неверных паролей.",
        "root_cause": "CRM locks accounts for 24 hours after five failed attempts.",
        "workaround": "Unlock the account in CRM administration and reset the password with the user on the phone.",
        "keywords": "login, lockout, учетка",
        "service": "CRM",
        "cis": ["crm-web-01"],
        "audience": "support",
    },
    {
        "title": "Mail queue grows while a mailbox sends bulk mail",
        "symptoms": "Monitoring warns that the mail queue on mail-01 grows; outgoing mail is delayed. / Растёт очередь почты на mail-01, письма уходят с задержкой.",
        "root_cause": "Newsletters sent from personal mailboxes exceed the per-sender rate limit.",
        "workaround": "Find the sender in the queue viewer, pause their messages and ask them to use the newsletter service.",
        "keywords": "queue, delay, очередь",
        "service": "E-mail",
        "cis": ["mail-01"],
        "audience": "support",
        "error_codes": ["4.4.2"],
    },
    {
        "title": "Management reports show yesterday's figures",
        "symptoms": "Reports and dashboards show old data when the nightly load did not finish. / Отчёты показывают вчерашние данные.",
        "root_cause": "The nightly load waits for an ERP extract that fails when the ERP backup overruns.",
        "workaround": "Restart the load job DWH-NIGHTLY from the scheduler once the ERP extract is present.",
        "keywords": "dashboard, reporting, отчеты",
        "service": "Reporting database",
        "cis": ["dwh-01"],
        "audience": "support",
        "accept": "Happens twice a year; re-running the load takes ten minutes.",
    },
    {
        "title": "Laptop does not start: faulty power adapter batch",
        "symptoms": "The laptop does not power on and the charging LED stays off. / Ноутбук не включается, индикатор зарядки не горит.",
        "root_cause": "Power adapters of the 2021 batch fail after two years.",
        "workaround": "Swap the adapter from the desk's spare stock.",
        "keywords": "notebook, charger, ноут, зарядка",
        "service": "Workplace",
        "audience": "portal",
    },
]


def load(org: DemoOrg) -> None:
    actor = org.users["problem"]
    for entry in KNOWN_ERRORS:
        if KnownError.objects.filter(title=entry["title"]).exists():
            continue
        with transaction.atomic():
            known_error = services.do_create_known_error(
                actor=actor, title=entry["title"], symptoms=entry["symptoms"],
                root_cause=entry["root_cause"], workaround=entry["workaround"],
                keywords=entry["keywords"], services=[org.services[entry["service"]]],
                configuration_items=[org.cis[c] for c in entry.get("cis", [])],
                error_codes=entry.get("error_codes", []), audience=entry["audience"],
            )  # fmt: skip
            if entry.get("accept"):
                services.do_set_status(known_error=known_error, actor=actor, status="accepted",
                                       reason=entry["accept"])  # fmt: skip
