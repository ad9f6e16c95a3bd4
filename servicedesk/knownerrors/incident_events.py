"""Incident timeline events that error control writes (registered with the
foundation's ``incidents.events.register``)."""

from __future__ import annotations

from servicedesk.incidents import events
from servicedesk.incidents.events import Payload, Ref


class KnownErrorApplied(Payload):
    """The 1st line applied a known error's workaround to the incident."""

    known_error: Ref
    workaround: str
    resolved: bool
    score: float | None = None


class KnownErrorClosed(Payload):
    """The known error behind this open incident was closed (usually: fixed).
    Communications turns it into a message to the incident's people."""

    known_error: Ref
    outcome: str
    permanent_fix: str = ""
    change_refs: list[str] = []


events.register("known_error_applied", KnownErrorApplied)
events.register("known_error_closed", KnownErrorClosed)
