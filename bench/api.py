"""API throughput and latency, the production way (gunicorn, 2 workers), on PostgreSQL
and SQLite, with the database's own ceiling measured in the same run.

    .venv/bin/python bench/api.py [--db both|postgres|sqlite] [--incidents 100000]

The PostgreSQL database is `sd_bench` (dropped and re-created); set
SERVICEDESK_BENCH_DB to use another name (several people benchmarking on one
server).

For each database: a fresh database with the demo organisation and N incidents;
`servicedesk serve --workers 2`; wrk (Debian package `wrk`) drives create
(POST /incidents), list (GET /incidents, first page) and detail (GET
/incidents/{id}) for a fixed time each at a fixed number of connections. Then
the ceiling: single-row insert transactions per second through the driver from
the same number of connections. Prints requests/s, p50, p99, errors and the
ratio create/ceiling.

`--price-followers notifications,escalation` measures instead what those apps'
event followers cost a create: creates/s as shipped against creates/s with the
followers of each app, then of all of them, unsubscribed (bench/wsgi_without_followers.py),
in interleaved rounds on one database.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG = "postgres://postgres@127.0.0.1:5432"
BENCH_DB = os.environ.get("SERVICEDESK_BENCH_DB", "sd_bench")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sd(env: dict[str, str], *args: str, capture: bool = False) -> str:
    result = subprocess.run([sys.executable, "-m", "servicedesk", *args], env=env, check=True, cwd=ROOT,
                            capture_output=capture, text=True)  # fmt: skip
    return result.stdout.strip() if capture else ""


def prepare(kind: str, incidents: int) -> tuple[dict[str, str], str]:
    data_dir = tempfile.mkdtemp(prefix=f"sd-bench-{kind}-")
    env = {**os.environ, "SERVICEDESK_DATA_DIR": data_dir, "SERVICEDESK_LOGIN_THROTTLE": "0",
           "SERVICEDESK_LOG_LEVEL": "WARNING"}  # fmt: skip
    if kind == "postgres":
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c", f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)',
                        "-c", f'CREATE DATABASE "{BENCH_DB}"', "postgres"], check=True)  # fmt: skip
        env["DATABASE_URL"] = f"{PG}/{BENCH_DB}"
    else:
        env.pop("DATABASE_URL", None)
    sd(env, "migrate", "-v", "0")
    sd(env, "demo", "-v", "0")
    subprocess.run(
        [sys.executable, "-m", "bench.seed", "--incidents", str(incidents)],
        env=env,
        check=True,
        cwd=ROOT,
    )
    token = sd(env, "token", "create", "desk1", capture=True)
    return env, token


def wrk(
    url: str, *, token: str, seconds: int, connections: int, script: str | None = None
) -> dict[str, float]:
    args = [
        "wrk",
        "-t2",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "-H",
        f"Authorization: Bearer {token}",
    ]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        if script:
            lua.write(script)
            args += ["-s", lua.name]
    out = subprocess.run([*args, url], check=True, capture_output=True, text=True).stdout
    os.unlink(lua.name)

    def ms(label: str) -> float:
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not match:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    errors = int(non2xx.group(1)) if non2xx else 0
    if socket_errors:
        errors += sum(int(g) for g in socket_errors.groups())
    return {"rps": rps, "p50": ms("50"), "p99": ms("99"), "errors": errors, "requests": total}


CREATE_LUA = textwrap.dedent("""
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
    local n = 0
    request = function()
      n = n + 1
      local body = string.format('{"title": "Bench create %d", "affected_users": %d, "configuration_item": 1}', n, n % 60)
      return wrk.format(nil, nil, nil, body)
    end
""")


def ceiling(kind: str, env: dict[str, str], connections: int, seconds: float) -> float:
    """Single-row insert transactions per second from `connections` connections."""
    stop = time.monotonic() + seconds
    counts = [0] * connections

    if kind == "postgres":
        import psycopg

        url = env["DATABASE_URL"]
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS bench_ceiling")
            conn.execute(
                "CREATE TABLE bench_ceiling (id bigserial primary key, title text, at timestamptz default now())"
            )

        def run(i: int) -> None:
            with psycopg.connect(url) as conn:
                while time.monotonic() < stop:
                    with conn.transaction():
                        conn.execute("INSERT INTO bench_ceiling (title) VALUES (%s)", ("x" * 40,))
                    counts[i] += 1
    else:
        path = str(Path(env["SERVICEDESK_DATA_DIR"]) / "servicedesk.sqlite3")
        with sqlite3.connect(path) as setup:
            setup.execute("DROP TABLE IF EXISTS bench_ceiling")
            setup.execute(
                "CREATE TABLE bench_ceiling (id integer primary key, title text, at text)"
            )

        def run(i: int) -> None:
            lite = sqlite3.connect(path, timeout=30, isolation_level=None)
            lite.execute("PRAGMA journal_mode=WAL")
            lite.execute("PRAGMA synchronous=NORMAL")
            while time.monotonic() < stop:
                lite.execute("BEGIN IMMEDIATE")
                lite.execute(
                    "INSERT INTO bench_ceiling (title, at) VALUES (?, datetime('now'))", ("x" * 40,)
                )
                lite.execute("COMMIT")
                counts[i] += 1
            lite.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(connections)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.monotonic() - started)


@contextlib.contextmanager
def serving(env: dict[str, str], without_followers: str = "") -> Iterator[str]:
    """`servicedesk serve --workers 2` (or the same gunicorn command serving the
    application without some apps' followers); yields the API's base URL."""
    port = free_port()
    if without_followers:
        from servicedesk.core.management.commands.serve import gunicorn_argv

        argv = gunicorn_argv(host="127.0.0.1", port=port, workers=2, threads=1, asgi=False)
        argv[-1] = "bench.wsgi_without_followers:application"
        env = {**env, "BENCH_WITHOUT_FOLLOWERS": without_followers,
               "DJANGO_SETTINGS_MODULE": "servicedesk.settings"}  # fmt: skip
    else:
        argv = [sys.executable, "-m", "servicedesk", "serve", "--port", str(port), "--workers", "2"]
    server = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)  # fmt: skip
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/health", timeout=2).read()
                break
            except OSError:
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def bench(kind: str, incidents: int, seconds: int, connections: int) -> dict[str, object]:
    started = time.monotonic()
    env, token = prepare(kind, incidents)
    prepare_s = time.monotonic() - started
    results: dict[str, object] = {"prepare_s": prepare_s}
    with serving(env) as base:
        # warm-up, then measure
        wrk(f"{base}/incidents?limit=50", token=token, seconds=2, connections=connections)
        results["list"] = wrk(
            f"{base}/incidents?limit=50", token=token, seconds=seconds, connections=connections
        )
        results["detail"] = wrk(f"{base}/incidents/{incidents // 2}", token=token, seconds=seconds,
                                connections=connections)  # fmt: skip
        results["create"] = wrk(f"{base}/incidents", token=token, seconds=seconds, connections=connections,
                                script=CREATE_LUA)  # fmt: skip
    results["ceiling_tps"] = ceiling(kind, env, connections, seconds)
    if kind == "sqlite":
        shutil.rmtree(env["SERVICEDESK_DATA_DIR"], ignore_errors=True)
    return results


def price_followers(kind: str, incidents: int, seconds: int, connections: int, apps: list[str],
                    rounds: int) -> None:  # fmt: skip
    """Create as shipped against create without the followers of ``apps`` (each alone,
    then all together), in interleaved rounds on one database."""
    env, token = prepare(kind, incidents)
    variants = {"as shipped": ""}
    for app in apps:
        variants[f"without {app}"] = app
    if len(apps) > 1:
        variants[f"without {' + '.join(apps)}"] = ",".join(apps)
    figures: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, without in variants.items():
            with serving(env, without) as base:
                url = f"{base}/incidents"
                wrk(url, token=token, seconds=2, connections=connections, script=CREATE_LUA)
                figures[name].append(
                    wrk(
                        url,
                        token=token,
                        seconds=seconds,
                        connections=connections,
                        script=CREATE_LUA,
                    )
                )
    print(f"\n## {kind}: creates/s by round, {rounds} interleaved rounds of {seconds} s")
    shipped = statistics.median(f["rps"] for f in figures["as shipped"])
    print(f"{'variant':40} {'median':>8} {'vs shipped':>10} {'p99 ms':>7} {'errors':>6}  rounds")
    for name, runs in figures.items():
        median = statistics.median(f["rps"] for f in runs)
        p99 = statistics.median(f["p99"] for f in runs)
        errors = sum(int(f["errors"]) for f in runs)
        each = " ".join(f"{f['rps']:.0f}" for f in runs)
        print(f"{name:40} {median:8.1f} {median / shipped:10.2f} {p99:7.1f} {errors:6d}  {each}")
    if kind == "sqlite":
        shutil.rmtree(env["SERVICEDESK_DATA_DIR"], ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["both", "postgres", "sqlite"], default="both")
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--price-followers", metavar="APP,APP", default="",
                        help="instead: creates/s as shipped and without these apps' event followers "
                        "(e.g. notifications,escalation), to price them")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=3, help="rounds of --price-followers")
    args = parser.parse_args()
    kinds = ["postgres", "sqlite"] if args.db == "both" else [args.db]
    print(f"# bench/api.py  {time.strftime('%Y-%m-%d %H:%M %Z')}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average before: {os.getloadavg()[0]:.2f}")  # fmt: skip
    print(f"incidents in the database: {args.incidents:,}; wrk 2 threads, {args.connections} connections, "
          f"{args.seconds} s per figure; gunicorn 2 sync workers")  # fmt: skip
    for kind in kinds:
        if args.price_followers:
            apps = [a.strip() for a in args.price_followers.split(",") if a.strip()]
            price_followers(kind, args.incidents, args.seconds, args.connections, apps, args.rounds)
            continue
        r = bench(kind, args.incidents, args.seconds, args.connections)
        print(f"\n## {kind}  (prepared in {r['prepare_s']:.0f} s)")
        print(
            f"{'operation':10} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'requests':>9}"
        )
        for op in ("create", "list", "detail"):
            f = r[op]
            assert isinstance(f, dict)
            print(
                f"{op:10} {f['rps']:8.1f} {f['p50']:8.2f} {f['p99']:8.2f} {f['errors']:7d} {f['requests']:9d}"
            )
        create = r["create"]
        assert isinstance(create, dict)
        tps = float(r["ceiling_tps"])  # type: ignore[arg-type]
        print(
            f"database ceiling (single-row insert transactions/s, {args.connections} connections): {tps:.0f}"
        )
        print(f"create / ceiling: {create['rps'] / tps:.3f}")


if __name__ == "__main__":
    main()
