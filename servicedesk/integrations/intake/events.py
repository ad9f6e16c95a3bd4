"""Incident timeline event types written by intake (registered at app start).

- ``alert_received``: an alert opened the incident (``repeat: false``) or fired
  again for it; repeats are written at most every ``repeat_event_minutes``
  per alert group (the group's count and last-seen time always move).
- ``alert_resolved``: the key's last firing alert resolved; ``action`` says
  whether the integration resolves the incident or only records this event.
- ``email_received``: a message opened the incident or was added to it as a
  comment (``comment_id``); lists the attachments kept.
"""

from __future__ import annotations

from typing import Literal

from servicedesk.incidents.events import Payload, Ref, register


class AlertReceived(Payload):
    integration: Ref
    key: str
    title: str
    labels: dict[str, str]
    count: int
    repeat: bool
    source_url: str = ""


class AlertResolved(Payload):
    integration: Ref
    key: str
    count: int
    action: Literal["resolve", "event"]


class EmailReceived(Payload):
    integration: Ref
    message_id: str
    from_address: str
    subject: str
    attachments: list[str]
    comment_id: int | None = None


def register_all() -> None:
    register("alert_received", AlertReceived)
    register("alert_resolved", AlertResolved)
    register("email_received", EmailReceived)
