"""Intake settings: a Django setting of the same name wins, else the environment,
else the default here (see docs/intake.md)."""

from __future__ import annotations

import os

from django.conf import settings

DEFAULTS: dict[str, float] = {
    # Attachments larger than this are noted in the log, not kept.
    "SERVICEDESK_INTAKE_MAX_ATTACHMENT_BYTES": 25 * 1024 * 1024,
    # How often the worker polls IMAP mailboxes.
    "SERVICEDESK_IMAP_POLL_SECONDS": 60,
    # Messages fetched per mailbox per poll.
    "SERVICEDESK_IMAP_BATCH": 100,
    "SERVICEDESK_IMAP_TIMEOUT": 30,
    # The request log is kept this long.
    "SERVICEDESK_INTAKE_LOG_DAYS": 30,
}


def get(name: str) -> float:
    if hasattr(settings, name):
        return float(getattr(settings, name))
    raw = os.environ.get(name, "")
    return float(raw) if raw.strip() else DEFAULTS[name]
