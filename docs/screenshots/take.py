"""Regenerate the screenshots of the main pages, in English and Russian.

    .venv/bin/python docs/screenshots/take.py [--out docs/screenshots]

Builds the demo organisation in a throw-away data directory, starts
``servicedesk serve`` on a free port and photographs the pages with
Debian's chromium through Playwright (``apt-get install chromium``).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

CHROMIUM = os.environ.get("SERVICEDESK_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare(env: dict[str, str]) -> None:
    """Migrate and load the demo in the data directory of ``env``."""
    python = sys.executable
    subprocess.run([python, "-m", "servicedesk", "migrate", "-v0"], env=env, check=True)
    subprocess.run([python, "-m", "servicedesk", "demo"], env=env, check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip


def wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(120):
        if proc.poll() is not None:
            raise SystemExit("the server exited")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (our own server)
                return
        except OSError:
            time.sleep(0.25)
    raise SystemExit("the server did not start")


def sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "demo")
    page.click("main button[type=submit]")
    page.wait_for_load_state("networkidle")


def shoot(page: Page, out: Path, name: str, full: bool = True) -> None:
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(out / f"{name}.png"), full_page=full)
    print(out / f"{name}.png")


def signed_in(
    browser: Any, base: str, lang: str, username: str, *, phone: bool = False
) -> tuple[Any, Any]:
    """A new browser context in ``lang`` (Moscow time; a desktop, or a phone) and
    a page signed in as ``username``."""
    screen: dict[str, Any] = (
        {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 1}
        if phone
        else {"viewport": {"width": 1366, "height": 800}}
    )  # fmt: skip
    context = browser.new_context(locale=lang, timezone_id="Europe/Moscow", **screen)
    page = context.new_page()
    sign_in(page, base, username)
    return context, page


def take(base: str, out: Path) -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for lang in ("en", "ru"):
            context, page = signed_in(browser, base, lang, "desk1")
            page.goto(f"{base}/?queue=all")
            shoot(page, out, f"workspace-{lang}")
            page.click("table.incidents td.num a >> nth=2")
            shoot(page, out, f"incident-{lang}")
            page.goto(f"{base}/incidents/new/")
            page.fill("#reporter-search", "555-04")
            page.wait_for_selector("label.reporter")
            title = "Cannot print" if lang == "en" else "Не печатает принтер"  # noqa: RUF001
            page.fill("#id_title", title)
            page.fill("#id_affected_users", "12")
            page.wait_for_timeout(600)
            shoot(page, out, f"register-{lang}")
            page.goto(f"{base}/known-errors/")
            shoot(page, out, f"kedb-{lang}")
            page.click("#kedb td.num a >> nth=0")
            shoot(page, out, f"known-error-{lang}")
            page.goto(f"{base}/oncall/")
            shoot(page, out, f"oncall-{lang}")
            context.close()

            # Problem control and the figures: the problem manager's pages.
            context, page = signed_in(browser, base, lang, "problem")
            page.goto(f"{base}/problems/")
            shoot(page, out, f"problems-board-{lang}")
            page.click("#board td.num a >> nth=0")
            page.wait_for_selector("svg")
            shoot(page, out, f"problem-{lang}")
            page.goto(f"{base}/reports/")
            page.wait_for_selector(".report-card svg")
            page.wait_for_timeout(1500)  # the other cards load after the page (htmx)
            shoot(page, out, f"reports-{lang}")
            context.close()

            context, page = signed_in(browser, base, lang, "anna.user", phone=True)
            shoot(page, out, f"portal-phone-{lang}")
            page.goto(f"{base}/portal/new/")
            shoot(page, out, f"portal-report-phone-{lang}")
            page.goto(f"{base}/portal/")
            page.click(".portal-list a >> nth=0")
            shoot(page, out, f"portal-incident-phone-{lang}")
            context.close()
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sd-shots-") as data:
        env = {**os.environ, "SERVICEDESK_DATA_DIR": data,
               "DJANGO_SETTINGS_MODULE": "servicedesk.settings"}  # fmt: skip
        env.pop("DATABASE_URL", None)
        prepare(env)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "servicedesk", "serve", "--port", str(port), "--workers", "1"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_ready(f"http://127.0.0.1:{port}/api/v1/health", server)
            take(f"http://127.0.0.1:{port}", args.out)
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
