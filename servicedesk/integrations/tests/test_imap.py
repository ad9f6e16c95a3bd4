"""Polling a real IMAP server (Dovecot on loopback, started by the test)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from servicedesk.core.models import DueItem
from servicedesk.core.worker import Worker
from servicedesk.incidents.models import Comment, Incident
from servicedesk.integrations.intake import imap
from servicedesk.integrations.models import IntakeRequest, Integration, Mailbox
from servicedesk.testing.org import Org

from .dovecot import ImapServer
from .helpers import integration
from .mailhelpers import message


@pytest.fixture
def mailbox(org: Org, imap_server: ImapServer, settings: Any, tmp_path: Any) -> Integration:
    settings.DATA_DIR = tmp_path
    created, _ = integration("email", name="helpdesk", mailbox_address="helpdesk@example.com")
    Mailbox.objects.filter(integration=created).update(
        imap_host=imap_server.host, imap_port=imap_server.port, imap_security="none",
        imap_username=imap_server.username, imap_password=imap_server.password,
    )  # fmt: skip
    return created


@pytest.mark.django_db
class TestPolling:
    def test_new_mail_becomes_incidents_and_is_marked_seen(
        self,
        org: Org,
        mailbox: Integration,
        imap_server: ImapServer,
    ) -> None:
        imap_server.append(message(sender=org.reporter.email, subject="Scanner offline"))
        imap_server.append(
            message(subject="Out of office", headers={"Auto-Submitted": "auto-replied"})
        )
        assert imap.poll_all() == {"helpdesk@example.com": "2 handled"}
        incident = Incident.objects.get()
        assert incident.title == "Scanner offline" and incident.reporter == org.reporter
        assert [r.result for r in IntakeRequest.objects.order_by("id")] == ["accepted", "ignored"]
        assert all("Seen" in flags for flags in imap_server.flags().values())
        box = Mailbox.objects.get(integration=mailbox)
        assert box.last_uid == 2 and box.uid_validity and box.last_error == ""
        assert box.last_polled_at is not None and box.poll_lease_until is None
        # Nothing new: nothing happens.
        assert imap.poll_all() == {"helpdesk@example.com": "0 handled"}
        assert IntakeRequest.objects.count() == 2

    def test_a_reply_becomes_a_comment(
        self,
        org: Org,
        mailbox: Integration,
        imap_server: ImapServer,
    ) -> None:
        imap_server.append(message(sender=org.reporter.email, subject="Scanner offline"))
        imap.poll_all()
        incident = Incident.objects.get()
        imap_server.append(message(sender=org.reporter.email, body="Works again, thanks",
                                   subject=f"Re: [{incident.number}] Scanner offline"))  # fmt: skip
        imap.poll_all()
        assert Comment.objects.get().body == "Works again, thanks"

    def test_mail_a_person_already_read_is_left_alone(
        self,
        org: Org,
        mailbox: Integration,
        imap_server: ImapServer,
    ) -> None:
        imap_server.append(message(subject="Read by a person"))
        client = imap_server.client()
        client.select("INBOX")
        client.uid("STORE", "1", "+FLAGS", "(\\Seen)")
        client.logout()
        assert imap.poll_all() == {"helpdesk@example.com": "0 handled"}
        assert Incident.objects.count() == 0

    def test_password_from_the_environment(
        self,
        org: Org,
        mailbox: Integration,
        imap_server: ImapServer,
        monkeypatch: Any,
    ) -> None:
        Mailbox.objects.filter(integration=mailbox).update(
            imap_password="", imap_password_env="HELPDESK_IMAP_PASSWORD"
        )
        monkeypatch.setenv("HELPDESK_IMAP_PASSWORD", imap_server.password)
        imap_server.append(message())
        assert imap.poll_all() == {"helpdesk@example.com": "1 handled"}

    def test_a_held_lease_skips_the_poll(
        self,
        org: Org,
        mailbox: Integration,
        imap_server: ImapServer,
    ) -> None:
        from servicedesk.core import clock

        Mailbox.objects.filter(integration=mailbox).update(
            poll_lease_until=clock.now() + imap.LEASE
        )
        imap_server.append(message())
        assert imap.poll_all() == {"helpdesk@example.com": "0 handled"}


@pytest.mark.django_db(transaction=True)
def test_the_worker_polls_mailboxes(
    org: Org, mailbox: Integration, imap_server: ImapServer
) -> None:
    imap_server.append(message(subject="Via the worker"))
    Worker(name="test-worker").run(until_idle=True)
    item = DueItem.objects.get(key="periodic:integrations.poll_mailboxes")
    assert item.runs.get().detail == "poll started"
    deadline = time.monotonic() + 20
    while not Incident.objects.filter(title="Via the worker").exists():
        assert time.monotonic() < deadline, "the background poll did not deliver"
        time.sleep(0.1)
    while Mailbox.objects.get(integration=mailbox).poll_lease_until is not None:
        assert time.monotonic() < deadline
        time.sleep(0.1)


# Last: Dovecot slows down logins from an address after a failed one.
@pytest.mark.django_db
def test_a_wrong_password_is_recorded_on_the_mailbox(
    org: Org,
    mailbox: Integration,
    imap_server: ImapServer,
) -> None:
    Mailbox.objects.filter(integration=mailbox).update(imap_password="wrong")
    imap_server.append(message())
    summary = imap.poll_all()["helpdesk@example.com"]
    assert summary.startswith("error")
    box = Mailbox.objects.get(integration=mailbox)
    assert "AUTHENTICATIONFAILED" in box.last_error or "failed" in box.last_error.lower()
    assert box.poll_lease_until is None and Incident.objects.count() == 0
