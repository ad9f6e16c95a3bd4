"""What an incident's create costs with and without each of the apps that follow its
events in the same transaction (escalation clocks, notification rules, report
facts, problem candidates, ...): CPU of this process, CPU of the PostgreSQL
backend serving it, and SQL statements, per create.

    DATABASE_URL=postgres://... .venv/bin/python -m bench.followers [-n 300] [--rounds 3]

Run against a scratch database after `servicedesk demo` (e.g. the one bench/api.py
leaves): it writes real incidents. Variants are measured in interleaved rounds, so
a machine whose speed drifts during the run drifts alike for all of them. A
variant "without X" only unsubscribes X's listeners in this process, to price
them: the product never runs that way (docs/performance.md says why).
"""

from __future__ import annotations

import argparse
import collections
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

TICKS = os.sysconf("SC_CLK_TCK")


def backend_cpu_reader(pid: int) -> Callable[[], float | None]:
    """Seconds of CPU the database backend ``pid`` has used, if it runs on this machine."""
    stat = Path(f"/proc/{pid}/stat")

    def read() -> float | None:
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / TICKS

    return read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=300, help="creates per variant")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--user", default="desk1")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "servicedesk.settings")
    import django

    django.setup()
    from django.db import connection

    from bench.profiling import ApiSession, follower_app
    from servicedesk.core import events

    create = ApiSession(args.user).create
    subscribed = list(events.listeners("incident"))
    apps = sorted({follower_app(fn) for fn in subscribed})
    variants: dict[str, list[events.Listener]] = {"all followers": subscribed}
    for app in apps:
        variants[f"without {app}"] = [fn for fn in subscribed if follower_app(fn) != app]
    variants["no followers"] = []

    for _ in range(5):
        create()  # warm up: imports, caches, prepared statements
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_backend_pid()" if connection.vendor == "postgresql" else "SELECT 0"
        )
        backend = backend_cpu_reader(int(cursor.fetchone()[0]))

    cpu: dict[str, float] = dict.fromkeys(variants, 0.0)
    db_cpu: dict[str, float] = dict.fromkeys(variants, 0.0)
    measured_db = backend() is not None  # only when PostgreSQL runs on this machine
    statements: collections.Counter[str] = collections.Counter()
    done: collections.Counter[str] = collections.Counter()
    executed = 0

    def count(execute: Any, *args: Any) -> Any:
        nonlocal executed
        executed += 1
        return execute(*args)

    per_round = max(1, args.n // args.rounds)
    try:
        for _ in range(args.rounds):
            for name, listeners in variants.items():
                events._listeners["incident"][:] = listeners
                db0, cpu0, seen = backend() or 0.0, time.process_time(), executed
                with connection.execute_wrapper(count):
                    for _ in range(per_round):
                        create()
                cpu[name] += time.process_time() - cpu0
                db_cpu[name] += (backend() or 0.0) - db0
                statements[name] += executed - seen
                done[name] += per_round
    finally:
        events._listeners["incident"][:] = subscribed

    print(f"# bench/followers.py  {time.strftime('%Y-%m-%d %H:%M %Z')}, {connection.vendor}, "
          f"{done['all followers']} creates per variant in {args.rounds} interleaved rounds, "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print("# per create, in process (the API's view, serialisation and the database driver; "
          "no HTTP server); db ms: the PostgreSQL backend's CPU, when it runs on this machine")  # fmt: skip
    print(
        f"{'variant':26} {'app ms':>7} {'db ms':>7} {'sum ms':>7} {'vs all':>7} {'statements':>10}"
    )
    app_ms = {name: cpu[name] / done[name] * 1000 for name in variants}
    db_ms = {name: db_cpu[name] / done[name] * 1000 if measured_db else float("nan")
             for name in variants}  # fmt: skip
    total = {name: app_ms[name] + (db_ms[name] if measured_db else 0.0) for name in variants}
    for name in variants:
        print(f"{name:26} {app_ms[name]:7.2f} {db_ms[name]:7.2f} {total[name]:7.2f} "
              f"{total[name] / total['all followers']:7.2f} {statements[name] / done[name]:10.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
