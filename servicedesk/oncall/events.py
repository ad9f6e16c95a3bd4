"""Incident event types of paging (a cross-team contract: the communications
capability turns them into messages to the people they name)."""

from __future__ import annotations

from servicedesk.incidents.events import Payload, Ref, register


class Paged(Payload):
    page_id: int
    group: Ref
    person: Ref
    attempt: int
    ack_by: str


class PageAcknowledged(Payload):
    page_id: int
    person: Ref
    group: Ref
    attempt: int


class PageExhausted(Payload):
    """Nobody acknowledged (or nobody could be paged): people must step in."""

    page_id: int
    group: Ref
    attempts: int
    reason: str


register("paged", Paged)
register("page_acknowledged", PageAcknowledged)
register("page_exhausted", PageExhausted)

OWN_TYPES = frozenset({"paged", "page_acknowledged", "page_exhausted"})
