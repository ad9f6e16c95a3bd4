"""The admin pages of intake: they render, and adding an integration shows its token once."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from servicedesk.integrations import services
from servicedesk.integrations.models import Integration
from servicedesk.testing.factories import PASSWORD
from servicedesk.testing.org import Org

from .helpers import am_firing, deliver, integration
from .mailhelpers import message

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(org: Org) -> Client:
    client = Client()
    assert client.login(username=org.admin.username, password=PASSWORD)
    return client


def test_adding_an_integration_shows_its_token(admin_client: Client) -> None:
    response = admin_client.post("/admin/integrations/integration/add/", {
        "name": "Zabbix prod", "kind": "zabbix", "active": "on", "dedup_labels": "[]",
        "on_resolved": "resolve", "repeat_event_minutes": "5",
        "rules-TOTAL_FORMS": "1", "rules-INITIAL_FORMS": "0",
        "rules-0-position": "1", "rules-0-name": "db", "rules-0-match": '{"service": "db"}',
        "rules-0-severity": "3",
        "mailbox-TOTAL_FORMS": "0", "mailbox-INITIAL_FORMS": "0",
    }, follow=True)  # fmt: skip
    assert response.status_code == 200
    (notice,) = [str(m) for m in get_messages(response.wsgi_request) if "shown only now" in str(m)]
    token = notice.rsplit(" ", 1)[1]
    found = services.authenticate(token)
    assert found is not None and found.name == "Zabbix prod" and found.system_user is not None
    assert found.rules.get().match == {"service": "db"}


def test_a_bad_rule_pattern_is_a_form_error(admin_client: Client) -> None:
    response = admin_client.post("/admin/integrations/integration/add/", {
        "name": "Bad", "kind": "generic", "active": "on", "dedup_labels": "[]",
        "on_resolved": "resolve", "repeat_event_minutes": "5",
        "rules-TOTAL_FORMS": "1", "rules-INITIAL_FORMS": "0",
        "rules-0-position": "1", "rules-0-match": '{"host": "db(("}',
        "mailbox-TOTAL_FORMS": "0", "mailbox-INITIAL_FORMS": "0",
    })  # fmt: skip
    assert response.status_code == 200 and not Integration.objects.filter(name="Bad").exists()


def test_issue_token_action(admin_client: Client) -> None:
    am, old = integration()
    response = admin_client.post("/admin/integrations/integration/", {
        "action": "issue_token", "_selected_action": [am.pk],
    }, follow=True)  # fmt: skip
    assert response.status_code == 200
    assert services.authenticate(old) is None


def test_every_intake_page_renders(
    admin_client: Client, settings: object, tmp_path: object
) -> None:
    settings.DATA_DIR = tmp_path  # type: ignore[attr-defined]
    am, _ = integration()
    deliver(am, am_firing())
    mailbox, _ = integration("email", name="helpdesk")
    from servicedesk.integrations.mail_services import ingest_email

    ingest_email(integration=mailbox, raw=message(attachments=[("a.txt", "text/plain", b"a")]))
    services.record_request(integration=am, kind="alertmanager", received_at=am.created_at,
                            result="rejected", status_code=422, detail="bad")  # fmt: skip
    for model in ("integration", "intakerequest", "alertgroup", "inboundemail", "attachment"):
        assert admin_client.get(f"/admin/integrations/{model}/").status_code == 200, model
    assert (
        admin_client.get(f"/admin/integrations/integration/{mailbox.pk}/change/").status_code == 200
    )
    assert admin_client.get("/admin/integrations/integration/add/").status_code == 200
