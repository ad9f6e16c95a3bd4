"""Every published event may become messages (rules decide), in its own transaction."""

from __future__ import annotations

from typing import Any

from servicedesk.core import events

from .dispatch import notify_event


@events.subscribe("incident")
def incident_event(event: Any) -> None:
    notify_event("incident", event)


@events.subscribe("problem")
def problem_event(event: Any) -> None:
    notify_event("problem", event)


@events.subscribe("known_error")
def known_error_event(event: Any) -> None:
    notify_event("known_error", event)
