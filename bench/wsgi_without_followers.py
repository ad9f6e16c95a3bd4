"""The WSGI application with some apps' event followers unsubscribed, for pricing them
(`bench/api.py --price-followers`): never a way to run the product, which needs
every follower in the transaction of the change (docs/performance.md)."""

import os

from servicedesk.core import events
from servicedesk.wsgi import application

_without = tuple(f"servicedesk.{app}." for app in os.environ["BENCH_WITHOUT_FOLLOWERS"].split(","))
for _subject, _listeners in list(events._listeners.items()):
    _listeners[:] = [fn for fn in _listeners if not fn.__module__.startswith(_without)]

__all__ = ["application"]
