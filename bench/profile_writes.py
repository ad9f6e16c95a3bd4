"""Where an API write's time goes, in process: SQL statements per request (grouped by
the code that issued them) and a cProfile of N requests, against the database of
DATABASE_URL (run after `servicedesk demo`; e.g. the database bench/api.py leaves).

    DATABASE_URL=postgres://... .venv/bin/python -m bench.profile_writes [--op create] [-n 200]

Writes real incidents (the bench database is scratch). ``--op`` create, accept or
escalate (accept and escalate act on incidents created first, not timed).
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import io
import os
import pstats
import re
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--op", choices=["create", "accept", "escalate"], default="create")
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--user", default="desk1")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--sql", action="store_true", help="print every statement of one request")
    parser.add_argument("--wall", action="store_true", help="profile wall time (default: CPU time)")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "servicedesk.settings")
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bench.profiling import ApiSession, print_by_package

    session = ApiSession(args.user)
    create = session.create

    def act(pk: int) -> None:
        if args.op == "create":
            create()
            return
        body = {"reason": "other"} if args.op == "escalate" else {}
        session.post(f"/api/v1/incidents/{pk}/{args.op}", body)

    # warm up (imports, caches), then one request with its statements
    for _ in range(5):
        act(create())
    targets = [create() for _ in range(args.n + 1)] if args.op != "create" else [0] * (args.n + 1)
    with CaptureQueriesContext(connection) as captured:
        act(targets[0])
    print(f"# {args.op}: {len(captured.captured_queries)} SQL statements")
    groups: collections.Counter[str] = collections.Counter()
    for q in captured.captured_queries:
        sql = q["sql"]
        table = re.search(r'(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', sql)
        verb = sql.split()[0]
        groups[f"{verb} {table.group(1) if table else ''}"] += 1
        if args.sql:
            print(f"  {q['time']}s  {sql[:300]}")
    for name, count in groups.most_common():
        print(f"  {count:3d}  {name}")

    half = len(targets) // 2
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for pk in targets[1:half]:
        act(pk)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    print(f"# {half - 1} x {args.op}: {cpu / (half - 1) * 1000:.1f} ms CPU, "
          f"{wall / (half - 1) * 1000:.1f} ms wall per request (in process, not profiled; "
          f"load average {os.getloadavg()[0]:.1f})")  # fmt: skip
    targets = targets[half - 1 :]
    profiler = cProfile.Profile() if args.wall else cProfile.Profile(time.process_time)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    profiler.enable()
    for pk in targets[1:]:
        act(pk)
    profiler.disable()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    n = len(targets) - 1
    print(f"# {n} x {args.op}: {cpu / n * 1000:.1f} ms CPU, "
          f"{wall / n * 1000:.1f} ms wall per request (in process, profiled)")  # fmt: skip
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(r"servicedesk|ninja|pydantic", args.top)
    stats.sort_stats("tottime").print_stats(args.top)
    print(out.getvalue())
    print_by_package(stats)


if __name__ == "__main__":
    main()
