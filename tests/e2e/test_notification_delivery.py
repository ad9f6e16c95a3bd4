"""Delivery that loses nothing, with real worker processes.

A worker is killed (SIGKILL) while an SMTP server holds back its
acknowledgement of a message it has already accepted. A second worker takes
over once the lease runs out: every message arrives, the unconfirmed one is
sent again with the same ``Message-ID``/``X-ServiceDesk-Message-Id`` (so the
receiver drops the copy), and nothing the first worker had confirmed is sent
twice. Runs on SQLite and on PostgreSQL (``DATABASE_URL``).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings as django_settings
from django.db import connection

from servicedesk.core.models import DeliveryAttempt, OutboxMessage, RowState
from servicedesk.incidents import services as incidents
from servicedesk.integrations.models import WebhookEndpoint
from servicedesk.notifications import defaults, services
from servicedesk.notifications.models import Notification
from servicedesk.notifications.receivers import Mail, SMTPSink, WebhookReceiver
from servicedesk.testing.org import build_org

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
INCIDENTS = 6


def database_url() -> str:
    """The test database, for the worker processes."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = quote(db["USER"] or "postgres") + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def sink() -> Iterator[SMTPSink]:
    server = SMTPSink().start()
    yield server
    server.stop()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver(secret="e2e-secret").start()
    yield server
    server.stop()


class Workers:
    def __init__(self, sink: SMTPSink) -> None:
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "servicedesk.settings",
            "DATABASE_URL": database_url(),
            "SERVICEDESK_DATA_DIR": str(django_settings.DATA_DIR),
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(sink.port),
            "EMAIL_TIMEOUT": "60",
            "DEFAULT_FROM_EMAIL": "ServiceDesk <servicedesk@example.com>",
            # The outbox lease is three webhook timeouts: a dead worker's rows come back in 3 s.
            "SERVICEDESK_WEBHOOK_TIMEOUT": "1",
        }
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, name: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", "servicedesk", "worker", "--name", name, "--poll", "0.1",
             "--lease", "2", "--concurrency", "1"],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)

    def logs(self) -> str:
        return "\n".join(
            (p.stderr.read().decode(errors="replace") if p.stderr else "") for p in self.processes
        )


def wait_until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_killed_worker_loses_nothing_and_duplicates_nothing(
    sink: SMTPSink, receiver: WebhookReceiver, settings: Any
) -> None:
    settings.SERVICEDESK_QUIET_HOURS = False  # the test runs at any hour
    org = build_org()
    defaults.install()
    endpoint = WebhookEndpoint.objects.create(
        name="Chat", url=receiver.url, secret=receiver.secret, event_types=["nothing.else"]
    )
    services.do_save_rule(
        actor=None,
        data={"name": "E2E: every new incident to chat", "event_types": ["created"],
              "template_key": "incident_created", "channels": ["webhook"],
              "recipients": [{"kind": "webhook", "webhook": endpoint}]},
    )  # fmt: skip
    for n in range(INCIDENTS):
        incidents.do_create_incident(
            actor=org.desk_agent, title=f"Outage {n}", reporter=org.reporter
        )
    messages = list(OutboxMessage.objects.order_by("id"))
    assert Counter(m.channel for m in messages) == {"email": 6, "inapp": 6, "webhook": 6}

    # The third e-mail is accepted by the server, whose acknowledgement then never
    # reaches the worker: it is killed while waiting for it.
    held, release = threading.Event(), threading.Event()
    accepted: list[Mail] = []

    async def hold(mail: Mail) -> None:
        accepted.append(mail)
        if len(accepted) == 3:
            held.set()
            while not release.is_set():
                await asyncio.sleep(0.05)

    sink.hold = hold
    workers = Workers(sink)
    try:
        first = workers.start("worker-a")
        try:
            wait_until(held.is_set, 60, "the third e-mail to reach the server")
        except AssertionError:
            workers.stop_all()
            states = list(OutboxMessage.objects.values_list("channel", "state", "last_error"))
            raise AssertionError(f"{len(sink.mails)} {states} {workers.logs()[-3000:]}") from None
        first.kill()
        first.wait(timeout=30)
        release.set()
        confirmed_by_first = set(
            OutboxMessage.objects.filter(state=RowState.DONE).values_list("message_id", flat=True)
        )
        assert len(confirmed_by_first) >= 6  # the first two incidents' messages

        workers.start("worker-b")
        wait_until(
            lambda: not OutboxMessage.objects.exclude(state=RowState.DONE).exists(),
            90, "the second worker to deliver the rest",
        )  # fmt: skip
    finally:
        workers.stop_all()

    emails = [m for m in messages if m.channel == "email"]
    hooks = [m for m in messages if m.channel == "webhook"]
    held_id = accepted[2].message_id
    copies = Counter(m.message_id for m in sink.mails)
    # Nothing lost: the receiver holds every message once, after de-duplication.
    assert set(sink.unique) == {str(m.message_id) for m in emails}
    assert set(receiver.unique) == {str(m.message_id) for m in hooks}
    assert Notification.objects.count() == INCIDENTS
    # Only the unconfirmed message was sent twice, under the same id and Message-ID.
    assert copies[held_id] == 2
    assert all(count == 1 for mid, count in copies.items() if mid != held_id)
    assert len({str(m.message["Message-ID"]) for m in sink.mails if m.message_id == held_id}) == 1
    assert all(count == 1 for count in Counter(d.message_id for d in receiver.deliveries).values())
    assert all(d.signature_ok for d in receiver.deliveries)
    # The log shows one confirmed attempt per message: the killed worker confirmed
    # nothing it had not delivered, and nothing it confirmed was sent again.
    held_message = OutboxMessage.objects.get(message_id=held_id)
    assert list(
        DeliveryAttempt.objects.filter(message=held_message).values_list("ok", flat=True)
    ) == [True]
    assert held_id not in {str(m) for m in confirmed_by_first}
    for message in OutboxMessage.objects.all():
        assert DeliveryAttempt.objects.filter(message=message, ok=True).count() == 1
