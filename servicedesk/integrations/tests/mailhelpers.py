"""Building real RFC 5322 messages for the e-mail tests."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from django.utils import timezone


def message(
    *, sender: str = "Anna User <anna@example.com>", to: str = "helpdesk@example.com",
    subject: str = "Printer on floor 2 is jammed", body: str = "It jams on every job.",
    message_id: str | None = None, headers: dict[str, str] | None = None,
    attachments: list[tuple[str, str, bytes]] | None = None, html: str | None = None,
) -> bytes:  # fmt: skip
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Date"] = format_datetime(timezone.now())
    msg["Message-ID"] = message_id or make_msgid(domain="mail.example.com")
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for filename, content_type, data in attachments or []:
        maintype, subtype = content_type.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()
