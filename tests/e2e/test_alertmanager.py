"""End to end: the real Prometheus Alertmanager (Debian's prometheus-alertmanager)
delivers to a running ServiceDesk (`servicedesk serve`, gunicorn, file-backed
SQLite in a temporary data directory); alerts are pushed to Alertmanager's
/api/v2/alerts. Firing opens one incident, repeats de-duplicate, resolved resolves.

The receiver configuration follows shared/data/alert-payloads/alertmanager_test_config.yml
(group_by alertname+service, group_wait 1s, group_interval 2s, send_resolved),
pointed at the product with the integration token in the Authorization header.
Without the binary the test is skipped on a developer's machine and fails in
CI (CI=true), where `.ci/run` installs it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from servicedesk.testing.processes import free_port, stop

pytestmark = pytest.mark.e2e

ALERTMANAGER = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"
BOOTSTRAP = """
from servicedesk.accounts.models import Role, SupportGroup, User
from servicedesk.accounts.services import do_create_token
SupportGroup.objects.create(name="Service Desk", level=1)
admin = User.objects.create(username="e2e-admin", role=Role.ADMIN, is_superuser=True)
print(do_create_token(user=admin, name="e2e")[1])
"""


def http(method: str, url: str, body: Any = None, token: str = "") -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    return json.loads(text) if text.strip() else None


def wait_for(what: str, check: Callable[[], Any], timeout: float = 45) -> Any:
    deadline, last_error = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except (OSError, urllib.error.URLError, ValueError) as exc:
            last_error = exc
        time.sleep(0.25)
    pytest.fail(f"timed out waiting for {what} (last error: {last_error})")


@dataclass
class Stack:
    servicedesk: str
    alertmanager: str
    admin_token: str
    logs: Path

    def push(self, *alerts: dict[str, Any]) -> None:
        http("POST", f"{self.alertmanager}/api/v2/alerts", list(alerts))

    def groups(self) -> list[dict[str, Any]]:
        page = http("GET", f"{self.servicedesk}/api/v1/intake/alert-groups", token=self.admin_token)
        return page["items"]

    def incident(self, pk: int) -> dict[str, Any]:
        return http("GET", f"{self.servicedesk}/api/v1/incidents/{pk}", token=self.admin_token)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    if not os.path.exists(ALERTMANAGER):
        message = f"{ALERTMANAGER} is missing: apt-get install prometheus-alertmanager"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(SERVICEDESK_DATA_DIR=str(tmp_path / "data"), SERVICEDESK_LOGIN_THROTTLE="0",
               DJANGO_SETTINGS_MODULE="servicedesk.settings", PYTHONUNBUFFERED="1")  # fmt: skip

    def manage(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "servicedesk", *args], env=env,
                              capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    manage("migrate", "--verbosity", "0")
    admin_token = manage("shell", "-c", BOOTSTRAP).splitlines()[-1]
    token = manage("integration", "create", "alertmanager", "Alertmanager e2e",
                   "--dedup-label", "alertname", "--dedup-label", "service")  # fmt: skip

    web_port, am_port = free_port(), free_port()
    servicedesk = f"http://127.0.0.1:{web_port}"
    logs = tmp_path / "logs"
    logs.mkdir()
    web = subprocess.Popen(
        [sys.executable, "-m", "servicedesk", "serve", "--port", str(web_port), "--workers", "2"],
        env=env, stdout=(logs / "web.log").open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    config = tmp_path / "alertmanager.yml"
    config.write_text(f"""
route:
  receiver: itsm
  group_by: ['alertname', 'service']
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: itsm
    webhook_configs:
      - url: {servicedesk}/api/v1/intake/alertmanager
        send_resolved: true
        max_alerts: 0
        http_config:
          authorization:
            type: Bearer
            credentials: {token}
""")
    am = subprocess.Popen(
        [ALERTMANAGER, f"--config.file={config}", f"--storage.path={tmp_path / 'am'}",
         f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address=",
         "--log.level=debug"],
        stdout=(logs / "alertmanager.log").open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_for("ServiceDesk", lambda: http("GET", f"{servicedesk}/api/v1/health"), 90)
        wait_for("Alertmanager", lambda: urllib.request.urlopen(
            f"http://127.0.0.1:{am_port}/-/ready", timeout=5).status == 200)  # fmt: skip
        yield Stack(servicedesk, f"http://127.0.0.1:{am_port}", admin_token, logs)
    finally:
        stop(am)
        stop(web)


def alert(instance: str, *, ends: datetime | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "labels": {"alertname": "DiskFull", "service": "db", "instance": instance,
                   "severity": "critical"},
        "annotations": {"summary": "Disk almost full on the database hosts"},
        "generatorURL": "http://prom.local/graph?g0.expr=x",
    }  # fmt: skip
    if ends is not None:
        body["startsAt"] = (ends - timedelta(minutes=5)).isoformat()
        body["endsAt"] = ends.isoformat()
    return body


def test_alertmanager_firing_repeats_and_resolution(stack: Stack) -> None:
    try:
        # Firing: one notification, one incident.
        stack.push(alert("db01:9100"))
        (group,) = wait_for("the first incident", stack.groups)
        incident = stack.incident(group["incident"]["id"])
        assert incident["source"] == "monitoring" and incident["severity"] == 4
        assert incident["status"] == "new"

        # Repeats (the same alert again, and a second host of the same group) reach us as
        # the group's next notifications: the same incident, a higher count.
        for _ in range(3):
            stack.push(alert("db01:9100"), alert("db02:9100"))
            time.sleep(0.5)
        grown = wait_for("a repeat", lambda: [g for g in stack.groups() if g["count"] >= 3])
        assert len(stack.groups()) == 1 and grown[0]["incident"]["id"] == incident["id"]

        # Resolved: Alertmanager sends the group resolved; the incident is resolved.
        now = datetime.now(UTC)
        stack.push(alert("db01:9100", ends=now), alert("db02:9100", ends=now))
        wait_for("the resolution",
                 lambda: stack.incident(incident["id"])["status"] == "resolved")  # fmt: skip
        (closed,) = stack.groups()
        assert closed["open"] is False and closed["alert_status"] == "resolved"
        assert stack.incident(incident["id"])["resolution_code"] == "other"
        # Every notification is in the request log, all accepted, all about this incident.
        log = http("GET", f"{stack.servicedesk}/api/v1/intake/requests", token=stack.admin_token)
        assert len(log["items"]) >= 3
        assert {r["result"] for r in log["items"]} == {"accepted"}
        assert {r["incident"]["id"] for r in log["items"]} == {incident["id"]}
    except BaseException:
        for log in sorted(stack.logs.iterdir()):
            sys.stderr.write(f"---- {log.name}\n{log.read_text(errors='replace')[-6000:]}\n")
        raise
