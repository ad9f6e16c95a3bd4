"""`servicedesk intake email [--mailbox NAME]`: one message from standard input (an
MTA pipe); `servicedesk intake poll`: poll the IMAP mailboxes once.

Exit codes follow sysexits for the MTA: 0 handled (also when the message was
ignored as a loop or logged as failed), 67 no such mailbox, 75 temporary
failure (the database is unreachable: the MTA keeps the message and retries).
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from servicedesk.core.errors import NotFound
from servicedesk.integrations import mail_services

EX_NOUSER, EX_TEMPFAIL = 67, 75
MAX_MESSAGE = 64 * 1024 * 1024


class Command(BaseCommand):
    help = "Feed intake: a message from standard input, or poll the IMAP mailboxes."

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        email = sub.add_parser("email", help="Read one message (RFC 5322) from standard input.")
        email.add_argument("--mailbox", help="The e-mail integration's name or address.")
        sub.add_parser("poll", help="Poll every IMAP mailbox once.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "poll":
            from servicedesk.integrations.intake.imap import poll_all

            for address, summary in poll_all().items():
                self.stdout.write(f"{address}: {summary}")
            return
        try:
            integration = mail_services.mailbox_for(options["mailbox"])
        except NotFound as exc:
            self.stderr.write(exc.message)
            sys.exit(EX_NOUSER)
        except DatabaseError as exc:
            self.stderr.write(f"database unavailable: {exc}")
            sys.exit(EX_TEMPFAIL)
        raw = sys.stdin.buffer.read(MAX_MESSAGE + 1)
        if len(raw) > MAX_MESSAGE:
            raise CommandError(f"the message is larger than {MAX_MESSAGE} bytes")
        try:
            record = mail_services.ingest_email(integration=integration, raw=raw)
        except DatabaseError as exc:
            self.stderr.write(f"database unavailable: {exc}")
            sys.exit(EX_TEMPFAIL)
        self.stdout.write(f"{record.result}: {record.detail}")
