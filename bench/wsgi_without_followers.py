"""The WSGI application with some apps' event followers unsubscribed, for pricing them
(`bench/api.py --price-followers`): never a way to run the product, which needs
every follower in the transaction of the change (docs/performance.md)."""

import os

from bench.profiling import follower_app
from servicedesk.core import events
from servicedesk.wsgi import application

_without = set(os.environ["BENCH_WITHOUT_FOLLOWERS"].split(","))
for _listeners in events._listeners.values():
    _listeners[:] = [fn for fn in _listeners if follower_app(fn) not in _without]

__all__ = ["application"]
