"""Shared helpers of the intake tests: fixtures on disk, integrations, deliveries."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from servicedesk.integrations import services
from servicedesk.integrations.intake.payloads import PARSERS
from servicedesk.integrations.models import IntakeRequest, Integration
from servicedesk.integrations.services import Outcome

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def am_firing() -> dict[str, Any]:
    return fixture("alertmanager-0.25.0_firing.json")


def am_resolved() -> dict[str, Any]:
    return fixture("alertmanager-0.25.0_resolved.json")


def am_alert(payload: dict[str, Any], *, fingerprint: str, status: str = "firing",
             **labels: str) -> dict[str, Any]:  # fmt: skip
    """A copy of the payload's first alert with another fingerprint/status/labels."""
    alert = copy.deepcopy(payload["alerts"][0])
    alert.update(fingerprint=fingerprint, status=status)
    alert["labels"].update(labels)
    return alert


def integration(
    kind: str = "alertmanager", name: str = "", **settings: Any
) -> tuple[Integration, str]:
    created, token = services.do_create_integration(
        actor=None, kind=kind, name=name or f"{kind} test", **settings
    )
    return created, token or ""


def deliver(target: Integration, payload: Any) -> list[Outcome]:
    """What the endpoint does after auth and parsing, without HTTP."""
    return services.do_ingest_alerts(integration=target, alerts=PARSERS[target.kind](payload))


def opened_id(outcome: Outcome) -> int:
    assert outcome.incident is not None, outcome
    return outcome.incident


def last_request() -> IntakeRequest:
    record = IntakeRequest.objects.order_by("-id").first()
    assert record is not None
    return record
