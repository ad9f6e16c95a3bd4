"""Fixtures shared by every test (apps' tests and tests/e2e)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from servicedesk.accounts.models import User
from servicedesk.testing.api import ApiClient
from servicedesk.testing.org import Org, build_org


@pytest.fixture(autouse=True)
def _fast_settings(settings: Any) -> None:
    # Argon2 is the product's hasher; tests create many users and need no slow hash.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.AXES_ENABLED = False


@pytest.fixture
def org(db: None) -> Org:
    return build_org()


@pytest.fixture
def api() -> Callable[[User | None], ApiClient]:
    """``api(user)``: a client authenticated as ``user`` with a real API token."""
    return ApiClient
