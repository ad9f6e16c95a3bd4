"""Where a profile's CPU went, by package (shared by the profiling benches)."""

from __future__ import annotations

import collections
import pstats


def package_of(filename: str) -> str:
    """Where a profiled function lives: servicedesk's app, a library, or the stdlib."""
    if "/servicedesk/" in filename:
        return "servicedesk." + filename.split("/servicedesk/")[-1].split("/")[0]
    if "site-packages/" in filename:
        parts = filename.split("site-packages/")[-1].split("/")
        return "/".join(parts[:3]) if parts[0] == "django" else parts[0]
    return "python" if filename.startswith(("/", "<frozen")) else filename  # "~": builtins


def print_by_package(stats: pstats.Stats, top: int = 12) -> None:
    print("# own CPU by package (share of the profiled total; ~ is builtins)")
    by_package: collections.Counter[str] = collections.Counter()
    for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        by_package[package_of(filename)] += tottime
    total = sum(by_package.values()) or 1.0
    for package, seconds in by_package.most_common(top):
        print(f"  {seconds / total:6.1%}  {package}")
