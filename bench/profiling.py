"""Where a profile's CPU went, by package (shared by the profiling benches)."""

from __future__ import annotations

import collections
import itertools
import json
import pstats
from collections.abc import Callable
from typing import Any


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


class ApiSession:
    """Django's test client (no HTTP server) with a new API token of ``username``."""

    def __init__(self, username: str) -> None:
        from django.conf import settings
        from django.test import Client

        from servicedesk.accounts.models import User
        from servicedesk.accounts.services import do_create_token

        settings.ALLOWED_HOSTS = ["*"]
        _, raw = do_create_token(user=User.objects.get(username=username), name="profile")
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {raw}"}
        self._counter = itertools.count()

    def post(self, path: str, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
        response = self.client.post(path, data=json.dumps(body), content_type="application/json",
                                    headers=self.headers)  # fmt: skip
        assert response.status_code == status, response.content
        return dict(response.json())

    def create(self) -> int:
        """Create one incident through the API; returns its id."""
        n = next(self._counter)
        body = {"title": f"Profile create {n}", "affected_users": n % 60, "configuration_item": 1}
        return int(self.post("/api/v1/incidents", body, status=201)["id"])


def follower_app(listener: Callable[..., Any]) -> str:
    """The app an event listener belongs to (``servicedesk.<app>.listeners``)."""
    return str(listener.__module__).split(".")[1]
