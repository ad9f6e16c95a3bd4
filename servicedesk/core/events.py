"""In-transaction event publication.

Services append a timeline event and then ``publish`` it; subscribers (other
apps' ``listeners.py``) run in the same transaction and may only write rows:
schedule due items, queue outbox messages, create records. Anything that
talks to the outside world goes through the outbox, so a rolled-back change
has no effect anywhere.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from . import confcache

Listener = Callable[[Any], None]

_listeners: dict[str, list[Listener]] = defaultdict(list)


def subscribe(subject: str) -> Callable[[Listener], Listener]:
    """Register ``fn(event)`` for every event of ``subject`` ("incident", "problem", ...)."""

    def register(fn: Listener) -> Listener:
        if fn not in _listeners[subject]:
            _listeners[subject].append(fn)
        return fn

    return register


def publish(subject: str, event: Any) -> None:
    # Listeners read configuration and write none: one configuration token for all.
    with confcache.scope():
        for listener in list(_listeners[subject]):
            listener(event)


def listeners(subject: str) -> list[Listener]:
    return list(_listeners[subject])
