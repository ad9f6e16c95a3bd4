"""The "email" and "inapp" outbox channels.

Both are safe to repeat: an e-mail carries ``Message-ID`` and
``X-ServiceDesk-Message-Id`` derived from the outbox message's stable id, so
a receiver drops a copy resent after a worker crash; an in-app notification
is keyed by that id, so a resend finds the row it already wrote.
"""

from __future__ import annotations

import contextlib
import smtplib
import threading
from email.utils import formataddr, parseaddr
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import IntegrityError, transaction

from servicedesk.accounts.models import User
from servicedesk.core.lookups import KeyedRead, one
from servicedesk.core.models import OutboxMessage
from servicedesk.core.registry import PermanentFailure
from servicedesk.core.writes import insert, insert_many

from .models import Notification

_local = threading.local()


def _connection() -> Any:
    """One mail connection per delivery thread, kept open between messages (opened
    here, so that Django's backend does not open and close one per message)."""
    connection = getattr(_local, "mail", None)
    if connection is None:
        connection = get_connection(fail_silently=False)
        connection.open()
        _local.mail = connection
    return connection


def _drop_connection() -> None:
    connection = getattr(_local, "mail", None)
    _local.mail = None
    if connection is not None:
        # Closing a connection the server already dropped may fail; nothing to do.
        with contextlib.suppress(Exception):
            connection.close()


def sender_address() -> str:
    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or "servicedesk@localhost"


def mail_domain() -> str:
    return sender_address().rpartition("@")[2] or "servicedesk.local"


def message_id_header(message_id: object) -> str:
    """The ``Message-ID`` of an outbox message: the same on every delivery attempt."""
    return f"<{message_id}@{mail_domain()}>"


def build_email(message: OutboxMessage) -> EmailMessage:
    payload = message.payload
    from_name = str(payload.get("from_name") or "")
    address = sender_address()
    from_email = formataddr((from_name, address)) if from_name else settings.DEFAULT_FROM_EMAIL
    number = str(payload.get("number") or "")
    headers = {
        "Message-ID": message_id_header(message.message_id),
        "X-ServiceDesk-Message-Id": str(message.message_id),
        "X-ServiceDesk-Kind": str(payload.get("kind") or "status"),
        # RFC 3834: tell auto-responders not to answer.
        "Auto-Submitted": "auto-generated",
    }
    if number:
        # Mail clients thread every message about one incident together.
        headers["X-ServiceDesk-Reference"] = number
        headers["References"] = f"<{number}@{mail_domain()}>"
    reply_to = [str(payload["reply_to"])] if payload.get("reply_to") else None
    return EmailMessage(
        subject=str(payload.get("subject") or number),
        body=str(payload.get("body") or ""),
        from_email=from_email,
        to=[str(payload.get("to") or message.destination)],
        reply_to=reply_to,
        headers=headers,
    )


def _permanent(code: int) -> bool:
    return 500 <= code < 600


def deliver_email(message: OutboxMessage) -> str:
    """Send over Django's mail backend; 5xx answers are permanent, the rest retried."""
    try:
        email = build_email(message)
    except ValueError as exc:  # a header Django refuses (e.g. a newline in it)
        raise PermanentFailure(f"cannot build the message: {exc}") from None
    for attempt in (1, 2):
        connection = _connection()
        try:
            sent = connection.send_messages([email])
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            _drop_connection()
            if codes and all(_permanent(c) for c in codes):
                raise PermanentFailure(f"recipient refused: {exc.recipients}") from None
            raise
        except smtplib.SMTPResponseException as exc:
            _drop_connection()
            if _permanent(exc.smtp_code):
                raise PermanentFailure(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from None
            raise
        except (smtplib.SMTPServerDisconnected, ConnectionError):
            # A kept-open connection the server has closed: reconnect once.
            _drop_connection()
            if attempt == 2:
                raise
            continue
        if not sent:
            raise PermanentFailure("the mail backend accepted no recipient")
        return f"sent to {email.to[0]}"
    raise RuntimeError("unreachable")  # pragma: no cover


_active_user = KeyedRead(lambda pk: User.objects.filter(pk=pk, is_active=True))


def _notification(message: OutboxMessage, user_id: int) -> Notification:
    payload = message.payload
    return Notification(
        message_id=message.message_id,
        user_id=user_id,
        kind=payload.get("kind") or "status",
        event_type=str(payload.get("event_type") or "")[:80],
        title=str(payload.get("title") or payload.get("number") or "")[:300],
        body=str(payload.get("body") or ""),
        link=str(payload.get("link") or "")[:500],
        subject_type=str(payload.get("subject_type") or ""),
        subject_id=payload.get("subject_id"),
        number=str(payload.get("number") or "")[:40],
        sender_id=payload.get("sender_id"),
        action_request_id=payload.get("action_request_id"),
        created_at=message.created_at,
    )


def _user_id(message: OutboxMessage) -> int | None:
    user_id = message.payload.get("user_id")
    return user_id if isinstance(user_id, int) and not isinstance(user_id, bool) else None


def deliver_inapp(message: OutboxMessage) -> str:
    """Write the user's notification (once per message id)."""
    user_id = _user_id(message)
    user = _active_user(user_id) if user_id is not None else None
    if user is None:
        raise PermanentFailure("the user does not exist or is inactive")
    try:
        # Once per message id: a second delivery of the same message finds it.
        with transaction.atomic():
            notification = insert(_notification(message, user.pk))
        created = True
    except IntegrityError:
        existing = one(Notification.objects.filter(message_id=message.message_id))
        if existing is None:
            raise  # not a second delivery: another constraint
        notification, created = existing, False
    return f"notification {notification.pk}" + ("" if created else " (already delivered)")


def deliver_inapp_batch(messages: list[OutboxMessage]) -> list[str | PermanentFailure]:
    """Write the notifications of several messages in one INSERT, inside the
    transaction that settles the messages (so each is written once). A message
    written before (by an older worker that crashed before confirming) makes the
    INSERT fail: the worker then delivers the batch one by one, which finds it."""
    wanted = {uid for m in messages if (uid := _user_id(m)) is not None}
    active = set(User.objects.filter(pk__in=wanted, is_active=True).values_list("pk", flat=True))
    results: list[str | PermanentFailure] = []
    rows: list[tuple[int, Notification]] = []
    for message in messages:
        user_id = _user_id(message)
        if user_id is None or user_id not in active:
            results.append(PermanentFailure("the user does not exist or is inactive"))
            continue
        rows.append((len(results), _notification(message, user_id)))
        results.append("")
    insert_many([notification for _, notification in rows])
    for index, notification in rows:
        results[index] = f"notification {notification.pk}"
    return results
