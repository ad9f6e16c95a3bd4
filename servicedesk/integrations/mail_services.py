"""The verbs of e-mail intake: a message becomes an incident, or a comment on the
incident it replies to, with its attachments kept; loops and auto-replies are
recorded and ignored.

A reply is recognised by the incident number in the subject (``INC-000042``)
or by In-Reply-To/References naming a message we received for an incident or
one of our own (``<INC-000042.…@…>``, the Message-ID convention for outgoing
mail). It is a public comment when the sender is the reporter, the incident's
contact address or support staff; from anyone else it is an internal note by
the mailbox's system user, so that a forged sender cannot speak to the
reporter in the desk's name.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Q
from django.db.models.functions import Greatest

from servicedesk.accounts.models import User
from servicedesk.core import clock
from servicedesk.incidents import services as incident_services
from servicedesk.incidents.events import ref
from servicedesk.incidents.models import Comment, Incident, Source, Status

from . import conf, services
from .intake import mail, mapping
from .intake.payloads import FIRING, Alert
from .models import (
    Attachment,
    InboundEmail,
    IntakeRequest,
    IntakeResult,
    Integration,
    Mailbox,
    attachment_root,
)

MAX_ATTACHMENTS = 50
log = logging.getLogger("servicedesk.intake")


def our_addresses(mailbox: Mailbox) -> set[str]:
    addresses = {mailbox.address, settings.DEFAULT_FROM_EMAIL, settings.SERVER_EMAIL}
    addresses |= set(Mailbox.objects.values_list("address", flat=True))
    return {a.strip().lower() for a in addresses if a}


def store_file(data: bytes) -> str:
    """Keep the bytes under DATA_DIR/attachments by SHA-256; returns the digest.
    Identical files are stored once; a rolled-back transaction leaves at most an
    unreferenced file behind, never a row without its file."""
    digest = hashlib.sha256(data).hexdigest()
    folder = attachment_root() / digest[:2]
    target = folder / digest
    if target.exists():
        return digest
    folder.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=folder, prefix=".incoming-")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(temp, target)
    return digest


def _keep_attachments(
    parsed: mail.ParsedMail, incident: Incident, email: InboundEmail
) -> tuple[list[str], list[str]]:
    """(kept file names, notes about files not kept)."""
    kept, notes = [], []
    limit = int(conf.get("SERVICEDESK_INTAKE_MAX_ATTACHMENT_BYTES"))
    for item in parsed.attachments[:MAX_ATTACHMENTS]:
        if len(item.data) > limit:
            notes.append(f"{item.filename} not kept: {len(item.data)} bytes, limit {limit}")
            continue
        Attachment.objects.create(
            incident=incident, email=email, filename=item.filename,
            content_type=item.content_type, size=len(item.data), sha256=store_file(item.data),
            created_at=clock.now(),
        )  # fmt: skip
        kept.append(item.filename)
    if len(parsed.attachments) > MAX_ATTACHMENTS:
        notes.append(f"{len(parsed.attachments) - MAX_ATTACHMENTS} attachments over the limit")
    return kept, notes


def find_incident(parsed: mail.ParsedMail) -> Incident | None:
    """The incident a message replies to: by number in the subject, else by its
    In-Reply-To/References headers."""
    number = mail.incident_number(parsed.subject)
    if number is None and parsed.references:
        known = (
            InboundEmail.objects.filter(message_id__in=parsed.references, incident__isnull=False)
            .order_by("-id")
            .values_list("incident_id", flat=True)
            .first()
        )
        number = known
        for reference in parsed.references if number is None else []:
            number = mail.incident_number(reference.split("@")[0].replace(".", " "))
            if number is not None:
                break
    if number is None:
        return None
    return Incident.objects.filter(pk=number).first()


def _sender(address: str) -> User | None:
    if not address:
        return None
    return User.objects.filter(email__iexact=address, is_active=True).order_by("id").first()


def _valid_email(address: str) -> str:
    try:
        validate_email(address)
    except ValidationError:
        return ""
    return address


def _comment(
    integration: Integration, parsed: mail.ParsedMail, incident: Incident, sender: User | None
) -> Comment:
    body = mail.strip_quoted(parsed.text) or f"(e-mail without text: {parsed.subject})"
    reporter_address = (incident.contact_email or "").strip().lower()
    author: User | None
    if sender is not None and (sender.is_support_staff or sender.pk == incident.reporter_id):
        author, public = sender, True
    elif parsed.from_address and parsed.from_address == reporter_address:
        public = True
        if incident.reporter.is_active:
            author = incident.reporter
        else:  # reported by a mailbox: its system user writes, naming the sender
            author = integration.system_user
            body = f"E-mail from {parsed.from_address}:\n\n{body}"
    else:
        author, public = integration.system_user, False
        body = f"E-mail from {parsed.from_address} (not a party to this incident):\n\n{body}"
    assert author is not None
    return incident_services.do_add_comment(
        incident=incident, actor=author, body=body[:100_000], public=public
    )


def _open(integration: Integration, parsed: mail.ParsedMail, sender: User | None,
          follow_up: Incident | None) -> Incident:  # fmt: skip
    labels = {"from": parsed.from_address, "to": ",".join(parsed.to), "subject": parsed.subject}
    alert = Alert(key=parsed.message_id or parsed.subject, status=FIRING,
                  title=parsed.subject or "(no subject)", description=parsed.text, labels=labels)  # fmt: skip
    rules = list(integration.rules.select_related(
        "service", "configuration_item", "technology", "category"))  # fmt: skip
    mapped = mapping.apply(rules, alert, integration, alert.key)
    description = mapped.description
    if sender is None:
        description = f"From: {parsed.from_name} <{parsed.from_address}>\n\n{description}"
    if follow_up is not None:
        description = f"Follow-up to {follow_up.number} ({follow_up.status}).\n\n{description}"
    reporter = sender or integration.reporter or integration.system_user
    assert reporter is not None
    return incident_services.do_create_incident(
        actor=None, title=mapped.title, description=description[:100_000], reporter=reporter,
        contact_email=_valid_email(parsed.from_address) or None, source=Source.EMAIL,
        service=mapped.service, configuration_item=mapped.configuration_item,
        technology=mapped.technology, category=mapped.category,
        affected_users=mapped.affected_users, severity=mapped.severity,
        severity_reason=(f"set by {integration.name}: {mapped.severity_rule}"[:500]
                         if mapped.severity is not None else ""),
    )  # fmt: skip


def _advance(mailbox: Mailbox, imap: tuple[int, int] | None) -> None:
    """Record IMAP progress in the transaction that handled the message."""
    if imap is not None:
        validity, uid = imap
        Mailbox.objects.filter(pk=mailbox.pk).update(
            uid_validity=validity, last_uid=Greatest("last_uid", uid)
        )


def _ignore(integration: Integration, parsed: mail.ParsedMail, raw: bytes, received_at: datetime,
            reason: str, record_email: bool = True) -> IntakeRequest:  # fmt: skip
    request = services.record_request(
        integration=integration, kind=integration.kind, received_at=received_at,
        result=IntakeResult.IGNORED, status_code=200, detail=reason, body=raw,
        outcomes=[services.Outcome(parsed.message_id, "ignored")],
    )  # fmt: skip
    if record_email:
        InboundEmail.objects.create(
            integration=integration, request=request, message_id=parsed.message_id,
            subject=parsed.subject, from_address=parsed.from_address, received_at=received_at,
            action=InboundEmail.Action.IGNORED, reason=reason[:200],
        )  # fmt: skip
    return request


@transaction.atomic
def do_ingest_email(
    *, integration: Integration, raw: bytes, imap: tuple[int, int] | None = None
) -> IntakeRequest:
    """Turn one message into an incident or a comment (or ignore it), keep its
    attachments and log it. ``imap`` is (UIDVALIDITY, UID) of a polled message:
    the mailbox's progress moves in the same transaction."""
    mailbox = Mailbox.objects.get(integration=integration)
    received_at = clock.now()
    parsed = mail.parse(raw)
    _advance(mailbox, imap)
    if (
        parsed.message_id
        and InboundEmail.objects.filter(
            integration=integration, message_id=parsed.message_id
        ).exists()
    ):
        return _ignore(integration, parsed, raw, received_at, "duplicate (Message-ID seen)", False)
    reason = mail.loop_reason(parsed, our_addresses(mailbox))
    if reason:
        return _ignore(integration, parsed, raw, received_at, reason)

    # First, so that a concurrent delivery of the same message stops here, on the
    # Message-ID index, before it opens anything (ingest_email retries it).
    email = InboundEmail.objects.create(
        integration=integration, message_id=parsed.message_id, subject=parsed.subject,
        from_address=parsed.from_address, received_at=received_at,
        action=InboundEmail.Action.CREATED,
    )  # fmt: skip
    sender = _sender(parsed.from_address)
    incident = find_incident(parsed)
    comment: Comment | None = None
    follow_up = None
    closed = incident is not None and incident.status in (Status.CLOSED, Status.CANCELLED)
    if closed and (sender is None or not sender.is_support_staff):
        # The reporter writes to a closed incident: a new one, pointing at the old.
        follow_up, incident = incident, None
    if incident is not None:
        comment = _comment(integration, parsed, incident, sender)
        email.action = InboundEmail.Action.COMMENTED
    else:
        incident = _open(integration, parsed, sender, follow_up)
    email.incident, email.comment = incident, comment
    email.save(update_fields=["action", "incident", "comment"])
    kept, notes = _keep_attachments(parsed, incident, email)
    incident_services.append_event(
        incident, "email_received", actor=None,
        payload={"integration": ref(integration), "message_id": parsed.message_id,
                 "from_address": parsed.from_address, "subject": parsed.subject,
                 "attachments": kept, "comment_id": comment.pk if comment else None},
    )  # fmt: skip
    verb = "commented on" if comment else "opened"
    detail = "; ".join([f"{verb} {incident.number}", *notes])
    request = services.record_request(
        integration=integration, kind=integration.kind, received_at=received_at,
        result=IntakeResult.ACCEPTED, status_code=200, detail=detail, body=raw,
        outcomes=[services.Outcome(parsed.message_id, "commented" if comment else "opened",
                                   incident.pk)],
    )  # fmt: skip
    InboundEmail.objects.filter(pk=email.pk).update(request=request)
    return request


@transaction.atomic
def record_failed_email(
    *, integration: Integration, raw: bytes, error: str, imap: tuple[int, int] | None = None
) -> IntakeRequest:
    """Log a message that could not be handled (the raw text is kept in the log) and
    move past it, so one bad message does not stop a mailbox."""
    mailbox = Mailbox.objects.get(integration=integration)
    _advance(mailbox, imap)
    return services.record_request(
        integration=integration, kind=integration.kind, received_at=clock.now(),
        result=IntakeResult.FAILED, status_code=500, detail=error, body=raw,
    )  # fmt: skip


def mailbox_for(name: str | None) -> Integration:
    """The e-mail integration called ``name``, or the only one."""
    from servicedesk.core.errors import NotFound

    qs = Integration.objects.filter(kind="email", active=True)
    if name:
        qs = qs.filter(Q(name=name) | Q(mailbox__address__iexact=name))
    found = list(qs[:2])
    if len(found) != 1:
        raise NotFound(
            f"no active e-mail integration named {name!r}"
            if name
            else "give --mailbox: there is not exactly one active e-mail integration"
        )
    return found[0]


def ingest_email(
    *, integration: Integration, raw: bytes, imap: tuple[int, int] | None = None
) -> IntakeRequest:
    """:func:`do_ingest_email`, logging a failure instead of raising it. A message
    delivered twice at once loses the race on the Message-ID index and is then
    seen as a duplicate."""
    for attempt in (1, 2):
        try:
            return do_ingest_email(integration=integration, raw=raw, imap=imap)
        except IntegrityError:
            if attempt == 2:
                raise
        except OperationalError:
            raise  # the database is away or busy: the MTA or the next poll retries
        except Exception as exc:
            log.exception("e-mail intake failed for %s", integration)
            return record_failed_email(
                integration=integration, raw=raw, imap=imap, error=f"{type(exc).__name__}: {exc}"
            )
    raise AssertionError("unreachable")  # pragma: no cover
