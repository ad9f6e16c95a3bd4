"""Polling mailboxes over IMAP.

A poll takes the mailbox's lease (one conditional UPDATE, so two workers never
poll one mailbox at once), fetches the unseen messages above the last UID it
finished, and hands each to ``ingest_email`` in its own transaction, which
also moves the mailbox's last UID: a crash between two messages repeats
nothing and loses nothing. Handled messages are flagged \\Seen for people who
read the same mailbox. Network I/O never runs inside a database transaction.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import os
import re
import ssl
from datetime import timedelta

from django.db.models import Q

from servicedesk.core import clock

from .. import conf
from ..models import Mailbox

log = logging.getLogger("servicedesk.intake.imap")
LEASE = timedelta(minutes=10)
_UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)")


class MailboxError(Exception):
    pass


def password(mailbox: Mailbox) -> str:
    if mailbox.imap_password_env:
        value = os.environ.get(mailbox.imap_password_env)
        if value is None:
            raise MailboxError(f"the environment variable {mailbox.imap_password_env} is not set")
        return value
    return mailbox.imap_password


def connect(mailbox: Mailbox) -> imaplib.IMAP4:
    timeout = conf.get("SERVICEDESK_IMAP_TIMEOUT")
    client: imaplib.IMAP4
    if mailbox.imap_security == Mailbox.Security.SSL:
        client = imaplib.IMAP4_SSL(
            mailbox.imap_host, mailbox.imap_port, ssl_context=ssl.create_default_context(),
            timeout=timeout,
        )  # fmt: skip
    else:
        client = imaplib.IMAP4(mailbox.imap_host, mailbox.imap_port, timeout=timeout)
        if mailbox.imap_security == Mailbox.Security.STARTTLS:
            client.starttls(ssl.create_default_context())
    client.login(mailbox.imap_username, password(mailbox))
    return client


def _take_lease(mailbox: Mailbox) -> bool:
    now = clock.now()
    free = Q(poll_lease_until__isnull=True) | Q(poll_lease_until__lt=now)
    return bool(Mailbox.objects.filter(free, pk=mailbox.pk).update(poll_lease_until=now + LEASE))


def poll_mailbox(mailbox: Mailbox) -> int:
    """Fetch and handle a mailbox's new messages; returns how many were handled."""
    from ..mail_services import ingest_email

    if not _take_lease(mailbox):
        return 0
    handled = 0
    try:
        mailbox.refresh_from_db()
        client = connect(mailbox)
        try:
            status, _ = client.select(_quote(mailbox.imap_folder))
            if status != "OK":
                raise MailboxError(f"cannot open folder {mailbox.imap_folder!r}")
            validity = _uid_validity(client, mailbox.imap_folder)
            last = mailbox.last_uid if mailbox.uid_validity == validity else 0
            status, data = client.uid("SEARCH", "UNSEEN", f"UID {last + 1}:*")
            if status != "OK":
                raise MailboxError("UID SEARCH failed")
            uids = sorted(int(u) for u in (data[0] or b"").split() if int(u) > last)
            for uid in uids[: int(conf.get("SERVICEDESK_IMAP_BATCH"))]:
                status, parts = client.uid("FETCH", str(uid), "(BODY.PEEK[])")
                raw = next((p[1] for p in parts if isinstance(p, tuple)), None)
                if status != "OK" or not isinstance(raw, bytes):
                    raise MailboxError(f"cannot fetch message UID {uid}")
                ingest_email(integration=mailbox.integration, raw=raw, imap=(validity, uid))
                client.uid("STORE", str(uid), "+FLAGS", "(\\Seen)")
                handled += 1
        finally:
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                client.logout()
        Mailbox.objects.filter(pk=mailbox.pk).update(last_polled_at=clock.now(), last_error="")
    except (imaplib.IMAP4.error, OSError, MailboxError) as exc:
        log.warning("polling %s failed: %s", mailbox, exc)
        Mailbox.objects.filter(pk=mailbox.pk).update(
            last_polled_at=clock.now(), last_error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise
    finally:
        Mailbox.objects.filter(pk=mailbox.pk).update(poll_lease_until=None)
    return handled


def poll_all() -> dict[str, str]:
    """Poll every active mailbox that has an IMAP host; returns a summary per mailbox."""
    summary: dict[str, str] = {}
    mailboxes = Mailbox.objects.filter(integration__active=True).exclude(imap_host="")
    for mailbox in mailboxes.select_related("integration"):
        try:
            summary[mailbox.address] = f"{poll_mailbox(mailbox)} handled"
        except (imaplib.IMAP4.error, OSError, MailboxError) as exc:
            summary[mailbox.address] = f"error: {exc}"
    return summary


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _uid_validity(client: imaplib.IMAP4, folder: str) -> int:
    _, data = client.response("UIDVALIDITY")
    for item in data or []:
        if isinstance(item, bytes) and item.strip().isdigit():
            return int(item)
    status, data = client.status(_quote(folder), "(UIDVALIDITY)")
    match = _UIDVALIDITY.search(data[0] if data and isinstance(data[0], bytes) else b"")
    if status != "OK" or match is None:
        raise MailboxError("the server did not say the folder's UIDVALIDITY")
    return int(match.group(1))
