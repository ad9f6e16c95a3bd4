"""Incident timeline events that problem control writes (registered with the
foundation's ``incidents.events.register``)."""

from __future__ import annotations

from servicedesk.incidents import events
from servicedesk.incidents.events import Payload, Ref


class ProblemLinked(Payload):
    problem: Ref
    set_pending: bool = False


class ProblemUnlinked(Payload):
    problem: Ref


class WorkaroundAvailable(Payload):
    """The problem behind a linked open incident has a published workaround."""

    problem: Ref
    known_error: Ref
    workaround: str


events.register("problem_linked", ProblemLinked)
events.register("problem_unlinked", ProblemUnlinked)
events.register("workaround_available", WorkaroundAvailable)
