"""Fixtures of the communications tests: the shipped set, loopback receivers, a worker."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import pytest

from servicedesk.accounts.models import SupportGroup, User
from servicedesk.core.worker import Worker
from servicedesk.notifications import channels, defaults
from servicedesk.notifications.receivers import SMTPSink, WebhookReceiver
from servicedesk.testing.factories import SupportGroupFactory, UserFactory
from servicedesk.testing.org import Org


def make_user(**fields: Any) -> User:
    """A user from the factory, typed as the model (factory_boy's stubs say otherwise)."""
    return cast(User, UserFactory(**fields))


def make_group(**fields: Any) -> SupportGroup:
    return cast(SupportGroup, SupportGroupFactory(**fields))


@pytest.fixture(autouse=True)
def _no_quiet_hours(settings: Any) -> None:
    # Tests run at any hour; the quiet-hours tests switch it back on.
    settings.SERVICEDESK_QUIET_HOURS = False


@pytest.fixture
def org(org: Org) -> Org:
    """The test organisation with the shipped rules and templates (a flush by an
    earlier transactional test removes what the data migration installed)."""
    defaults.install()
    return org


@pytest.fixture
def smtp(settings: Any) -> Iterator[SMTPSink]:
    """A real SMTP server on loopback, and Django's SMTP backend pointed at it."""
    sink = SMTPSink().start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = sink.port
    settings.EMAIL_USE_TLS = False
    settings.DEFAULT_FROM_EMAIL = "ServiceDesk <servicedesk@example.com>"
    channels._drop_connection()
    yield sink
    channels._drop_connection()
    sink.stop()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver(secret="s3cret-for-tests").start()
    yield server
    server.stop()


def run_worker() -> Worker:
    """Perform and deliver everything that is due now, in this process and its
    transaction (``Worker.run`` would close the test's database connection)."""
    worker = Worker(name="test-worker", poll_seconds=0)
    while worker.run_due_once() + worker.run_outbox_once():
        pass
    return worker
