"""The console commands: `servicedesk integration ...` and `servicedesk intake email`
(a real process reading a real pipe, as an MTA runs it)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from servicedesk.incidents.models import Incident
from servicedesk.integrations import services
from servicedesk.integrations.models import IntakeRequest, Integration
from servicedesk.testing.org import Org

from .mailhelpers import message


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue().strip(), err.getvalue().strip()


@pytest.mark.django_db
class TestIntegrationCommand:
    def test_create_prints_a_working_token(self, org: Org) -> None:
        token, hint = run("integration", "create", "alertmanager", "Prometheus prod")
        assert token.startswith("sdi_") and "/api/v1/intake/alertmanager" in hint
        integration = services.authenticate(token)
        assert integration is not None and integration.name == "Prometheus prod"
        assert integration.kind == "alertmanager" and integration.system_user is not None

    def test_create_with_options(self, org: Org) -> None:
        run("integration", "create", "zabbix", "Zabbix", "--reporter", org.desk_agent.username,
            "--dedup-label", "host", "--dedup-label", "trigger_id", "--on-resolved", "event")  # fmt: skip
        zabbix = Integration.objects.get(name="Zabbix")
        assert zabbix.reporter == org.desk_agent and zabbix.dedup_labels == ["host", "trigger_id"]
        assert zabbix.on_resolved == "event"

    def test_email_integrations_have_no_token(self, org: Org) -> None:
        out, hint = run("integration", "create", "email", "helpdesk", "--address", "hd@example.com")
        assert out == "" and "intake email" in hint
        assert Integration.objects.get(name="helpdesk").mailbox.address == "hd@example.com"

    def test_errors(self, org: Org) -> None:
        run("integration", "create", "generic", "Scripts")
        with pytest.raises(CommandError, match="exists"):
            run("integration", "create", "generic", "Scripts")
        with pytest.raises(CommandError, match="no user"):
            run("integration", "create", "generic", "Other", "--reporter", "nobody")

    def test_rotate_list_disable(self, org: Org) -> None:
        old, _ = run("integration", "create", "grafana", "Grafana")
        new, _ = run("integration", "token", "Grafana")
        assert services.authenticate(old) is None and services.authenticate(new) is not None
        listing, _ = run("integration", "list")
        assert "Grafana" in listing and new[:12] in listing and new not in listing
        run("integration", "disable", "Grafana")
        assert services.authenticate(new) is None
        run("integration", "enable", "Grafana")
        assert services.authenticate(new) is not None


def _database_url() -> str:
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    host = settings.get("HOST") or "127.0.0.1"
    port = settings.get("PORT") or 5432
    return f"postgres://{settings['USER']}@{host}:{port}/{settings['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_intake_email_reads_a_pipe(org: Org, tmp_path: Any) -> None:
    services.do_create_integration(actor=None, kind="email", name="helpdesk",
                                   mailbox_address="helpdesk@example.com")  # fmt: skip
    env = {**os.environ, "DATABASE_URL": _database_url(), "SERVICEDESK_DATA_DIR": str(tmp_path)}

    def pipe(raw: bytes, *args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "servicedesk", "intake", "email", *args],
            input=raw, env=env, capture_output=True, timeout=120, check=False,
        )  # fmt: skip

    done = pipe(message(sender=org.reporter.email, subject="Piped in",
                        attachments=[("a.txt", "text/plain", b"hello")]), "--mailbox", "helpdesk")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().startswith("accepted: opened INC-")
    incident = Incident.objects.get(title="Piped in")
    assert incident.reporter == org.reporter
    assert (tmp_path / "attachments").is_dir()


class _Stdin:
    def __init__(self, raw: bytes) -> None:
        self.buffer = io.BytesIO(raw)


@pytest.mark.django_db
class TestIntakeEmailCommand:
    def test_an_auto_reply_is_handled_and_logged(self, org: Org, monkeypatch: Any) -> None:
        services.do_create_integration(actor=None, kind="email", name="helpdesk")
        monkeypatch.setattr(sys, "stdin", _Stdin(message(headers={"Precedence": "junk"})))
        out, _ = run("intake", "email")
        assert out.startswith("ignored: bulk or list mail")
        assert IntakeRequest.objects.get().result == "ignored"

    def test_no_such_mailbox_exits_67_so_the_mta_bounces(self, org: Org, monkeypatch: Any) -> None:
        monkeypatch.setattr(sys, "stdin", _Stdin(message()))
        with pytest.raises(SystemExit) as exited:
            run("intake", "email", "--mailbox", "nope")
        assert exited.value.code == 67
        assert Incident.objects.count() == 0
