"""Incident timeline event types added by communications.

- ``status_update_sent``: a hand-written status update went to the incident's
  stakeholders (SPEC 6: automatic messages are supplemented by hand-written
  ones for high-severity incidents).
- ``action_request_overdue``: an action request passed its due time undone
  (the addressee is reminded).
- ``action_request_done``: someone marked an action request done.
"""

from __future__ import annotations

from servicedesk.incidents import events
from servicedesk.incidents.events import Payload, Ref


class StatusUpdateSent(Payload):
    text: str
    author: Ref | None
    sender: Ref | None = None
    recipients: int
    channels: list[str]


class ActionRequestOverdue(Payload):
    action_request_id: int
    addressee: str
    action: str
    due_at: str


class ActionRequestDone(Payload):
    action_request_id: int
    addressee: str
    action: str
    outcome: str = ""


def register() -> None:
    events.register("status_update_sent", StatusUpdateSent)
    events.register("action_request_overdue", ActionRequestOverdue)
    events.register("action_request_done", ActionRequestDone)
