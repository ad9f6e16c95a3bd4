"""The current time, overridable for a block of code.

Services read the time from here so that replaying history (the demo, log
imports) can run them "at" a past moment; tests use time-machine, which
moves ``timezone.now`` underneath.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime

from django.utils import timezone

_override: ContextVar[datetime | None] = ContextVar("servicedesk_clock", default=None)


def now() -> datetime:
    return _override.get() or timezone.now()


@contextmanager
def frozen_at(moment: datetime) -> Iterator[None]:
    """Run the block as if it were ``moment`` (aware datetime)."""
    if timezone.is_naive(moment):
        raise ValueError("frozen_at needs an aware datetime")
    token = _override.set(moment)
    try:
        yield
    finally:
        _override.reset(token)
