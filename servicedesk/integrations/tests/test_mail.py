"""E-mail -> incidents and comments: replies, attachments, loops and auto-replies."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

import pytest

from servicedesk.incidents import services as incident_services
from servicedesk.incidents.models import Comment, Incident, IncidentEvent, Source, Status
from servicedesk.integrations import mail_services
from servicedesk.integrations.intake import mail
from servicedesk.integrations.models import Attachment, InboundEmail, Integration, MappingRule
from servicedesk.testing.org import Org

from .helpers import integration
from .mailhelpers import message

pytestmark = pytest.mark.django_db


@pytest.fixture
def mailbox(org: Org, settings: Any, tmp_path: Any) -> Integration:
    settings.DATA_DIR = tmp_path
    created, token = integration("email", name="helpdesk", mailbox_address="helpdesk@example.com")
    assert token == ""  # mailboxes have no token
    return created


def ingest(mailbox: Integration, raw: bytes) -> Any:
    return mail_services.ingest_email(integration=mailbox, raw=raw)


class TestNewMail:
    def test_mail_from_a_known_user_opens_an_incident_they_report(
        self, org: Org, mailbox: Integration
    ) -> None:
        record = ingest(mailbox, message(sender=f"Rep <{org.reporter.email.upper()}>"))
        assert record.result == "accepted" and record.detail.startswith("opened INC-")
        incident = Incident.objects.get()
        assert incident.source == Source.EMAIL and incident.reporter == org.reporter
        assert incident.title == "Printer on floor 2 is jammed"
        assert incident.description == "It jams on every job."
        assert incident.affected_users == 1 and incident.severity == 3
        assert record.incident == incident
        email = InboundEmail.objects.get()
        assert email.action == "created" and email.incident == incident
        (event,) = IncidentEvent.objects.filter(incident=incident, type="email_received")
        assert event.payload["from_address"] == org.reporter.email

    def test_unknown_sender_is_reported_by_the_mailbox(
        self, org: Org, mailbox: Integration
    ) -> None:
        ingest(mailbox, message(sender="Visitor <visitor@elsewhere.example>"))
        incident = Incident.objects.get()
        assert incident.reporter == mailbox.system_user
        assert incident.contact_email == "visitor@elsewhere.example"
        assert incident.description.startswith("From: Visitor <visitor@elsewhere.example>")

    def test_html_only_mail_becomes_text(self, org: Org, mailbox: Integration) -> None:
        msg = EmailMessage()
        msg["From"], msg["Subject"] = org.reporter.email, "HTML"
        msg.set_content("<p>Line <b>one</b></p><script>x()</script><p>Line two</p>", subtype="html")
        ingest(mailbox, msg.as_bytes())
        assert Incident.objects.get().description == "Line one\nLine two"

    def test_the_plain_alternative_wins(self) -> None:
        raw = message(html="<p>Other text</p>")
        assert mail.parse(raw).text == "It jams on every job."

    def test_attachments_are_kept_under_the_data_dir(
        self, org: Org, mailbox: Integration, tmp_path: Any
    ) -> None:
        ingest(mailbox, message(attachments=[("../../etc/error.png", "image/png", b"\x89PNG-bytes"),
                                             ("log.txt", "text/plain", b"line 1\n")]))  # fmt: skip
        first, second = Attachment.objects.order_by("id")
        assert first.filename == "error.png" and first.size == 10
        assert first.path.read_bytes() == b"\x89PNG-bytes"
        assert first.path.is_relative_to(tmp_path / "attachments")
        assert second.filename == "log.txt" and second.incident == first.incident
        event = IncidentEvent.objects.get(type="email_received")
        assert event.payload["attachments"] == ["error.png", "log.txt"]

    def test_oversized_attachments_are_noted_not_kept(
        self, org: Org, mailbox: Integration, settings: Any
    ) -> None:
        settings.SERVICEDESK_INTAKE_MAX_ATTACHMENT_BYTES = 5
        record = ingest(mailbox, message(attachments=[("big.bin", "application/octet-stream",
                                                       b"0123456789")]))  # fmt: skip
        assert Attachment.objects.count() == 0 and "big.bin not kept" in record.detail

    def test_rules_map_mail_to_a_service(self, org: Org, mailbox: Integration) -> None:
        MappingRule.objects.create(integration=mailbox, match={"subject": "(?i).*vpn.*"},
                                   service=org.internet)  # fmt: skip
        ingest(mailbox, message(subject="VPN drops"))
        assert Incident.objects.get().service == org.internet


class TestReplies:
    def opened(self, mailbox: Integration, **kw: Any) -> Incident:
        ingest(mailbox, message(**kw))
        return Incident.objects.order_by("-id").first()  # type: ignore[return-value]

    def test_subject_number_makes_a_public_comment_by_the_reporter(
        self, org: Org, mailbox: Integration
    ) -> None:
        incident = self.opened(mailbox, sender=org.reporter.email)
        body = "Still jammed.\n\nOn Mon, Anna wrote:\n> It jams on every job.\n"
        record = ingest(mailbox, message(sender=org.reporter.email,
                                         subject=f"Re: [{incident.number}] Printer", body=body))  # fmt: skip
        assert record.detail == f"commented on {incident.number}"
        comment = Comment.objects.get()
        assert comment.author == org.reporter and comment.public and comment.body == "Still jammed."
        assert Incident.objects.count() == 1
        event = IncidentEvent.objects.filter(type="email_received").last()
        assert event is not None and event.payload["comment_id"] == comment.pk

    def test_in_reply_to_a_message_we_received(self, org: Org, mailbox: Integration) -> None:
        incident = self.opened(
            mailbox, sender=org.reporter.email, message_id="<first@mail.example.com>"
        )
        ingest(mailbox, message(sender=org.reporter.email, subject="Re: Printer",
                                headers={"In-Reply-To": "<first@mail.example.com>"}))  # fmt: skip
        assert Comment.objects.get().incident == incident

    def test_references_to_our_own_message_id(self, org: Org, mailbox: Integration) -> None:
        incident = self.opened(mailbox, sender=org.reporter.email)
        ref = f"<{incident.number}.1a2b3c@servicedesk.example.com>"
        ingest(mailbox, message(sender=org.reporter.email, subject="Re: your incident",
                                headers={"References": f"<x@y> {ref}"}))  # fmt: skip
        assert Comment.objects.get().incident == incident

    def test_staff_replies_are_public_comments(self, org: Org, mailbox: Integration) -> None:
        incident = self.opened(mailbox, sender=org.reporter.email)
        ingest(mailbox, message(sender=org.desk_agent.email, subject=f"RE: {incident.number}",
                                body="Technician is on the way."))  # fmt: skip
        comment = Comment.objects.get()
        assert comment.author == org.desk_agent and comment.public

    def test_a_stranger_writes_an_internal_note(self, org: Org, mailbox: Integration) -> None:
        incident = self.opened(mailbox, sender=org.reporter.email)
        ingest(mailbox, message(sender="mallory@evil.example", subject=f"Re: {incident.number}",
                                body="Please send your password"))  # fmt: skip
        comment = Comment.objects.get()
        assert comment.author == mailbox.system_user and not comment.public
        assert comment.body.startswith("E-mail from mallory@evil.example (not a party")

    def test_an_unknown_reporter_replying_keeps_the_conversation(
        self, org: Org, mailbox: Integration
    ) -> None:
        incident = self.opened(mailbox, sender="visitor@elsewhere.example")
        ingest(mailbox, message(sender="visitor@elsewhere.example",
                                subject=f"Re: {incident.number}", body="Any news?"))  # fmt: skip
        comment = Comment.objects.get()
        assert comment.public and comment.author == mailbox.system_user
        assert comment.body == "E-mail from visitor@elsewhere.example:\n\nAny news?"

    def test_reply_attachments_join_the_incident(self, org: Org, mailbox: Integration) -> None:
        incident = self.opened(mailbox, sender=org.reporter.email)
        ingest(mailbox, message(sender=org.reporter.email, subject=f"Re: {incident.number}",
                                attachments=[("photo.jpg", "image/jpeg", b"jpeg")]))  # fmt: skip
        assert Attachment.objects.get().incident == incident

    def test_a_reply_to_a_closed_incident_opens_a_follow_up(
        self, org: Org, mailbox: Integration
    ) -> None:
        incident = self.opened(mailbox, sender=org.reporter.email)
        incident_services.do_cancel(incident=incident, actor=org.reporter, reason="solved itself")
        ingest(mailbox, message(sender=org.reporter.email, subject=f"Re: {incident.number}",
                                body="It is back"))  # fmt: skip
        follow_up = Incident.objects.order_by("-id").first()
        assert follow_up is not None and follow_up != incident
        assert follow_up.description.startswith(f"Follow-up to {incident.number} (cancelled)")
        assert Comment.objects.count() == 0

    def test_unknown_number_opens_a_new_incident(self, org: Org, mailbox: Integration) -> None:
        ingest(mailbox, message(subject="Re: INC-999999 printer"))
        assert Incident.objects.count() == 1 and Comment.objects.count() == 0


class TestIgnored:
    @pytest.mark.parametrize(
        ("headers", "reason"),
        [
            ({"Auto-Submitted": "auto-replied"}, "Auto-Submitted"),
            ({"Auto-Submitted": "auto-generated; type=vacation"}, "Auto-Submitted"),
            ({"X-Autoreply": "yes"}, "x-autoreply"),
            ({"X-Autorespond": "Out of office"}, "x-autorespond"),
            ({"Precedence": "bulk"}, "Precedence: bulk"),
            ({"Precedence": "junk"}, "Precedence: junk"),
            ({"Precedence": "list"}, "Precedence: list"),
            ({"Return-Path": "<>"}, "bounce"),
        ],
    )
    def test_automatic_mail(self, org: Org, mailbox: Integration, headers: dict[str, str],
                            reason: str) -> None:  # fmt: skip
        record = ingest(mailbox, message(headers=headers))
        assert record.result == "ignored" and reason in record.detail
        assert Incident.objects.count() == 0
        assert InboundEmail.objects.get().action == "ignored"

    def test_auto_submitted_no_is_a_person(self, org: Org, mailbox: Integration) -> None:
        ingest(mailbox, message(headers={"Auto-Submitted": "no"}))
        assert Incident.objects.count() == 1

    @pytest.mark.parametrize(
        "sender", ["helpdesk@example.com", "servicedesk@localhost", "MAILER-DAEMON@mx.example.com"]
    )
    def test_our_own_address_and_daemons(self, org: Org, mailbox: Integration, sender: str,
                                         settings: Any) -> None:  # fmt: skip
        settings.DEFAULT_FROM_EMAIL = "servicedesk@localhost"
        assert ingest(mailbox, message(sender=sender)).result == "ignored"
        assert Incident.objects.count() == 0

    def test_the_same_message_twice_is_handled_once(self, org: Org, mailbox: Integration) -> None:
        raw = message(message_id="<once@mail.example.com>")
        ingest(mailbox, raw)
        second = ingest(mailbox, raw)
        assert second.result == "ignored" and "duplicate" in second.detail
        assert Incident.objects.count() == 1

    def test_a_bad_message_is_logged_not_lost(self, org: Org, mailbox: Integration,
                                              monkeypatch: Any) -> None:  # fmt: skip
        def broken(*args: Any, **kwargs: Any) -> None:
            raise ValueError("mapping exploded")

        monkeypatch.setattr(mail_services, "_open", broken)
        record = ingest(mailbox, message(body="keep me"))
        assert record.result == "failed" and "mapping exploded" in record.detail
        assert "keep me" in record.body and InboundEmail.objects.count() == 0


class TestParsing:
    def test_garbage_does_not_raise(self) -> None:
        parsed = mail.parse(b"\x00\xff\xfe not a message at all")
        assert parsed.subject == "" and parsed.from_address == ""
        assert mail.loop_reason(parsed, set()) == "no sender address"

    def test_strip_quoted(self) -> None:
        text = "Thanks!\n\n-----Original Message-----\nFrom: desk\nold text"
        assert mail.strip_quoted(text) == "Thanks!"
        assert mail.strip_quoted("> only quote") == "> only quote"
        assert mail.strip_quoted("Спасибо\n\n12.05.2026, Иван пишет:\n> старое") == "Спасибо"

    @pytest.mark.parametrize(("subject", "number"), [
        ("Re: [INC-000042] VPN", 42), ("inc-7 fw", 7), ("RE: INC-0000000000042", None),
        ("No reference", None), ("XINC-5", None),
    ])  # fmt: skip
    def test_incident_number(self, subject: str, number: int | None) -> None:
        assert mail.incident_number(subject) == number

    def test_status_of_a_cancelled_incident_is_what_tests_expect(self) -> None:
        assert Status.CANCELLED == "cancelled"
