"""Outbox channels and periodic jobs of this app."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from django.db import connections, transaction

from servicedesk.core import clock
from servicedesk.core.registry import channel, periodic

from . import conf, webhooks
from .models import IntakeRequest, Mailbox

channel("webhook")(webhooks.deliver)

log = logging.getLogger("servicedesk.intake")
_poll_running = threading.Lock()


def _poll_in_background() -> None:
    from .intake.imap import poll_all

    if not _poll_running.acquire(blocking=False):
        return  # the previous poll of this process is still running
    try:
        summary = poll_all()
        if summary:
            log.info("mailboxes polled: %s", summary)
    except Exception:
        log.exception("polling mailboxes failed")
    finally:
        _poll_running.release()
        connections.close_all()


@periodic(
    "integrations.poll_mailboxes",
    every=timedelta(seconds=conf.get("SERVICEDESK_IMAP_POLL_SECONDS")),
)
def poll_mailboxes() -> str:
    """Start an IMAP poll after this job's transaction commits, in a thread: the
    periodic job runs inside the worker's transaction, and network I/O must not
    hold it (on SQLite it would block every writer)."""
    if not Mailbox.objects.filter(integration__active=True).exclude(imap_host="").exists():
        return "no mailbox to poll"

    def start() -> None:
        threading.Thread(target=_poll_in_background, name="imap-poll", daemon=True).start()

    transaction.on_commit(start)
    return "poll started"


@periodic("integrations.prune_intake_log", every=timedelta(hours=6))
def prune_intake_log() -> str:
    cutoff = clock.now() - timedelta(days=conf.get("SERVICEDESK_INTAKE_LOG_DAYS"))
    deleted, _ = IntakeRequest.objects.filter(received_at__lt=cutoff).delete()
    return f"deleted {deleted}"
