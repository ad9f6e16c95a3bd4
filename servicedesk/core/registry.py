"""Where apps declare what the worker does.

- ``@due_handler("kind")``: perform a due item of that kind. The handler runs
  inside the item's transaction; it returns ``None`` (done) or a
  :class:`Reschedule` (the subject's next due moment).
- ``@due_prepare("kind")``: optional; called by the worker with the items of
  that kind it is about to perform in one transaction (a chunk), before the
  first; returns a context manager that the chunk's performs run inside (e.g.
  to lock and read their subjects in one statement).
- ``@periodic("name", every=...)``: a job run every interval by exactly one
  worker (it is a due item too).
- ``@channel("name")``: deliver an outbox message over a channel; raise
  :class:`PermanentFailure` for a message that retrying cannot help.
- ``@local_channel("name")``: optional, for a channel whose delivery is rows
  written in this database (in-app notifications): the worker calls it with
  a batch of that channel's claimed messages inside the transaction that
  settles them, so each is delivered exactly once and a batch costs a few
  statements. It returns one result per message: a detail, or a
  :class:`PermanentFailure`. Register the ``@channel`` handler too: it
  delivers a message alone (when a batch fails, or ``Worker.deliver``).
- ``@drain("name")``: work an app queues as rows of its own (e.g. report facts
  to recompute, coalesced per subject), taken by the worker between batches of
  due items: ``fn()`` processes one bounded batch in its own transaction and
  returns how many rows it took (0 when there is nothing to do, cheaply);
  ``backlog`` (optional) counts the rows waiting, for ``servicedesk doctor``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import DueItem, OutboxMessage


@dataclass(frozen=True)
class Reschedule:
    """Keep the row and perform it again at ``at`` (with a new payload if given)."""

    at: datetime
    payload: dict[str, Any] | None = None
    detail: str = ""


@dataclass(frozen=True)
class Skipped:
    """The step no longer applies (the subject moved on); recorded, not performed."""

    detail: str = ""


DueOutcome = Reschedule | Skipped | None
DueHandler = Callable[["DueItem"], DueOutcome]
ChannelHandler = Callable[["OutboxMessage"], str]
LocalChannelHandler = Callable[[list["OutboxMessage"]], list["str | PermanentFailure"]]
DuePrepare = Callable[[list["DueItem"]], AbstractContextManager[Any]]


class PermanentFailure(Exception):
    """Delivery cannot succeed by retrying (e.g. HTTP 404, an invalid address)."""


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every: timedelta
    function: Callable[[], Any] = field(compare=False)


due_handlers: dict[str, DueHandler] = {}
due_preparers: dict[str, DuePrepare] = {}
periodic_jobs: dict[str, PeriodicJob] = {}
channels: dict[str, ChannelHandler] = {}
local_channels: dict[str, LocalChannelHandler] = {}
drains: dict[str, Callable[[], int]] = {}
drain_backlogs: dict[str, Callable[[], int]] = {}


def due_handler(kind: str) -> Callable[[DueHandler], DueHandler]:
    def register(fn: DueHandler) -> DueHandler:
        due_handlers[kind] = fn
        return fn

    return register


def due_prepare(kind: str) -> Callable[[DuePrepare], DuePrepare]:
    def register(fn: DuePrepare) -> DuePrepare:
        due_preparers[kind] = fn
        return fn

    return register


def periodic(name: str, *, every: timedelta) -> Callable[[Callable[[], Any]], Callable[[], Any]]:
    def register(fn: Callable[[], Any]) -> Callable[[], Any]:
        periodic_jobs[name] = PeriodicJob(name=name, every=every, function=fn)
        return fn

    return register


def channel(name: str) -> Callable[[ChannelHandler], ChannelHandler]:
    def register(fn: ChannelHandler) -> ChannelHandler:
        channels[name] = fn
        return fn

    return register


def local_channel(name: str) -> Callable[[LocalChannelHandler], LocalChannelHandler]:
    def register(fn: LocalChannelHandler) -> LocalChannelHandler:
        local_channels[name] = fn
        return fn

    return register


def drain(
    name: str, *, backlog: Callable[[], int] | None = None
) -> Callable[[Callable[[], int]], Callable[[], int]]:
    def register(fn: Callable[[], int]) -> Callable[[], int]:
        drains[name] = fn
        if backlog is not None:
            drain_backlogs[name] = backlog
        return fn

    return register
