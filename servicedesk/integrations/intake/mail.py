"""Reading a message: headers, the text, attachments, loop and auto-reply detection,
and the references that make it a reply. Pure functions, no database."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

from servicedesk.incidents.models import parse_number

INCIDENT_NUMBER = re.compile(r"\bINC-(\d{1,10})\b", re.IGNORECASE)
MESSAGE_ID = re.compile(r"<([^<>\s]{1,250})>")
BULK_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}
BOUNCE_SENDERS = {"mailer-daemon", "postmaster"}
# Where the quoted original starts in a reply (English and Russian clients).
QUOTE_HEADER = re.compile(
    r"^(On .{0,300}wrote:|.{0,300}(пишет|написал|написала):|"
    r"-{2,}\s*Original Message\s*-{2,}|-{2,}\s*Исходное сообщение\s*-{2,}|"
    r"From: .{0,300}|От: .{0,300})\s*$",
    re.IGNORECASE,
)


@dataclass
class MailAttachment:
    filename: str
    content_type: str
    data: bytes


@dataclass
class ParsedMail:
    message_id: str = ""
    subject: str = ""
    from_name: str = ""
    from_address: str = ""
    to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    text: str = ""
    attachments: list[MailAttachment] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/plain"


def _clean(value: str, limit: int) -> str:
    # PostgreSQL text cannot hold NUL; lone surrogates from broken encodings neither.
    return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")[:limit]


def _header(message: Message, name: str) -> str:
    try:
        value = message.get(name)
    except Exception:  # a malformed header must not lose the message
        value = message.get_all(name, [""])[0] if hasattr(message, "get_all") else ""
    return _clean(" ".join(str(value or "").split()), 2_000)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head"):
            self.skip += 1
        elif tag in ("br", "p", "div", "tr", "li", "h1", "h2", "h3"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head") and self.skip:
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    text = "".join(parser.parts)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(line.strip() for line in text.splitlines())).strip()


def _part_text(part: Message) -> str:
    try:
        content = part.get_content() if isinstance(part, EmailMessage) else part.get_payload()
    except (LookupError, ValueError, AssertionError):
        raw = part.get_payload(decode=True)
        content = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw or "")
    if isinstance(content, bytes):
        content = content.decode("utf-8", "replace")
    return str(content)


def parse(raw: bytes) -> ParsedMail:
    """Read a message; never raises for a malformed one (what cannot be read stays empty)."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    parsed = ParsedMail()
    parsed.content_type = message.get_content_type()
    for name in ("Auto-Submitted", "X-Autoreply", "X-Autorespond", "X-Autoresponder",
                 "Precedence", "Return-Path", "List-Id", "In-Reply-To", "References"):  # fmt: skip
        value = _header(message, name)
        if value:
            parsed.headers[name.lower()] = value
    parsed.message_id = next(iter(MESSAGE_ID.findall(_header(message, "Message-ID"))), "")
    parsed.subject = _clean(_header(message, "Subject"), 500)
    parsed.from_name, address = parseaddr(_header(message, "From"))
    parsed.from_address = _clean(address.strip().lower(), 254)
    parsed.to = [
        a.lower() for _, a in getaddresses([_header(message, "To"), _header(message, "Cc")]) if a
    ]
    refs = parsed.headers.get("in-reply-to", "") + " " + parsed.headers.get("references", "")
    parsed.references = MESSAGE_ID.findall(refs)[:100]

    body: Message | None = None
    if isinstance(message, EmailMessage):
        try:
            body = message.get_body(preferencelist=("plain", "html"))
        except (KeyError, LookupError):
            body = None
    if body is not None:
        text = _part_text(body)
        parsed.text = html_to_text(text) if body.get_content_type() == "text/html" else text
    parsed.text = _clean(parsed.text.strip(), 100_000)

    attachments = message.iter_attachments() if isinstance(message, EmailMessage) else []
    for number, part in enumerate(attachments, start=1):
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            continue
        name = part.get_filename() or f"attachment-{number}"
        # Only the last path component: the name is shown, never used as a path.
        name = _clean(re.split(r"[\\/]", name)[-1].strip() or f"attachment-{number}", 200)
        parsed.attachments.append(MailAttachment(name, part.get_content_type()[:100], data))
    return parsed


def loop_reason(mail: ParsedMail, our_addresses: set[str]) -> str:
    """Why the message must not become an incident or a comment ("" when it may)."""
    auto = mail.headers.get("auto-submitted", "").lower()
    if auto and auto.split(";")[0].strip() != "no":
        return f"automatic message (Auto-Submitted: {auto})"
    for name in ("x-autoreply", "x-autorespond", "x-autoresponder"):
        if name in mail.headers:
            return f"auto-reply ({name})"
    precedence = mail.headers.get("precedence", "").lower()
    if precedence in BULK_PRECEDENCE:
        return f"bulk or list mail (Precedence: {precedence})"
    if mail.from_address and mail.from_address in our_addresses:
        return f"mail from our own address ({mail.from_address})"
    if (
        mail.headers.get("return-path", "").strip() == "<>"
        or mail.content_type == "multipart/report"
    ):
        return "delivery status notification (bounce)"
    if mail.from_address.split("@")[0] in BOUNCE_SENDERS:
        return f"mail from {mail.from_address}"
    if not mail.from_address:
        return "no sender address"
    return ""


def incident_number(subject: str) -> int | None:
    """The incident a subject names (``Re: [INC-000042] VPN``), if any."""
    for match in INCIDENT_NUMBER.finditer(subject):
        number = parse_number(match.group(0))
        if number is not None:
            return number
    return None


def strip_quoted(text: str) -> str:
    """The new part of a reply: up to the quoted original, without "> " lines."""
    kept: list[str] = []
    for line in text.splitlines():
        if QUOTE_HEADER.match(line.strip()):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line.rstrip())
    result = "\n".join(kept).strip()
    return result or text.strip()
