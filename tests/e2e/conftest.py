"""Browser tests: Playwright driving Debian's chromium against a live server.

The server is pytest-django's ``live_server`` on the project's file-backed
test database (SQLite) or PostgreSQL (``DATABASE_URL``). Without chromium
(``apt-get install chromium``) or Playwright these tests skip on a developer's
machine and fail when ``CI`` is set, so CI cannot pass without running them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest

CHROMIUM = os.environ.get("SERVICEDESK_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def chromium(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A browser for one test. Playwright's sync API keeps an event loop running
    in the test's thread while it lives, so Django's async-safety check is off
    for that test only (the test's own ORM calls are plain synchronous code),
    and the browser is closed before the next test, e2e or not, runs."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    if not os.path.exists(CHROMIUM):
        _unavailable(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        # While Playwright's loop runs, Django keeps the test's own connections
        # per context (asgiref.Local), apart from the thread's: close them here,
        # in that context, or they outlive the test.
        from django.db import connections

        connections.close_all()
        browser.close()


@pytest.fixture
def short_connections() -> Iterator[None]:
    """The live server answers requests in threads of its own, each with its own
    database connection: close them after each request rather than keeping them
    (CONN_MAX_AGE), so none is left open when the test database is dropped."""
    from django.db import connection

    before = connection.settings_dict.get("CONN_MAX_AGE", 0)
    connection.settings_dict["CONN_MAX_AGE"] = 0
    yield
    connection.settings_dict["CONN_MAX_AGE"] = before


@pytest.fixture
def open_page(
    chromium: Any, short_connections: None, live_server: Any
) -> Iterator[Callable[..., Any]]:
    """``open_page(locale="en")``: a fresh browser context on the live server.

    Fails the test on any console error (a CSP violation shows up there)."""
    contexts: list[Any] = []
    errors: list[str] = []

    def make(locale: str = "en", **options: Any) -> Any:
        context = chromium.new_context(base_url=live_server.url, locale=locale,
                                       timezone_id="Europe/Moscow", **options)  # fmt: skip
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        return page

    yield make
    for context in contexts:
        context.close()
    assert errors == [], f"browser console errors: {errors}"


def sign_in(page: Any, username: str, password: str = "pw-for-tests") -> None:  # noqa: S107
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("main button[type=submit]")
    page.wait_for_load_state("networkidle")
