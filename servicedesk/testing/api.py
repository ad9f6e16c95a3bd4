"""A small JSON client for API tests: authenticates with a real bearer token."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from servicedesk.accounts.models import User
from servicedesk.accounts.services import do_create_token


class ApiClient:
    def __init__(self, user: User | None = None) -> None:
        self.client = Client()
        self.user = user
        self.headers: dict[str, str] = {}
        if user is not None:
            _, raw = do_create_token(user=user, name="tests")
            self.headers["Authorization"] = f"Bearer {raw}"

    def _call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
              **params: Any) -> Any:  # fmt: skip
        url = path if path.startswith("/api/") else f"/api/v1{path}"
        all_headers = {**self.headers, **(headers or {})}
        if method == "get":
            return self.client.get(url, params, headers=all_headers)
        data = json.dumps(body) if body is not None else ""
        return getattr(self.client, method)(
            url, data=data, content_type="application/json", headers=all_headers
        )

    def get(self, path: str, headers: dict[str, str] | None = None, **params: Any) -> Any:
        return self._call("get", path, headers=headers, **params)

    def post(self, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        return self._call("post", path, body, headers)

    def patch(self, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        return self._call("patch", path, body, headers)

    def put(self, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        return self._call("put", path, body, headers)

    def delete(self, path: str, headers: dict[str, str] | None = None) -> Any:
        return self._call("delete", path, None, headers)
