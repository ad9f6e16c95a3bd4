"""Language, time zone, <html lang>, the CSP and the markup rules it implies."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import time_machine
from django.test import Client

from servicedesk.incidents.models import Incident
from servicedesk.testing.org import Org

pytestmark = pytest.mark.django_db


def html_lang(response: object) -> str:
    match = re.search(r'<html lang="([^"]+)"', response.content.decode())  # type: ignore[attr-defined]
    assert match
    return match.group(1)


def test_browser_language_when_the_profile_has_none(
    org: Org, browser: Callable[..., Client]
) -> None:
    assert html_lang(browser(org.desk_agent, "ru").get("/")) == "ru"
    assert html_lang(browser(org.desk_agent, "en").get("/")) == "en"


def test_profile_language_wins(org: Org, browser: Callable[..., Client]) -> None:
    org.desk_agent.language = "ru"
    org.desk_agent.save()
    response = browser(org.desk_agent, "en").get("/")
    assert html_lang(response) == "ru" and "Рабочее место" in response.content.decode()


def test_sign_in_page_follows_the_browser(client: Client) -> None:
    response = client.get("/accounts/login/", headers={"accept-language": "ru"})
    assert html_lang(response) == "ru" and "Вход" in response.content.decode()


def test_switcher_stores_the_choice_in_the_profile(
    org: Org, browser: Callable[..., Client]
) -> None:
    page = browser(org.desk_agent, "en")
    response = page.post("/language/", {"language": "ru", "next": "/?queue=all"})
    assert response["Location"] == "/?queue=all"
    org.desk_agent.refresh_from_db()
    assert org.desk_agent.language == "ru"
    assert html_lang(page.get("/")) == "ru"
    page.post("/language/", {"language": ""})  # back to the browser's
    org.desk_agent.refresh_from_db()
    assert org.desk_agent.language == ""


def test_switcher_works_signed_out(client: Client) -> None:
    response = client.post("/language/", {"language": "ru", "next": "/accounts/login/"})
    assert response["Location"] == "/accounts/login/"
    assert html_lang(client.get("/accounts/login/")) == "ru"


def test_preferences_time_zone_and_dates(org: Org, browser: Callable[..., Client],
                                         incident_for: Callable[..., Incident]) -> None:  # fmt: skip
    with time_machine.travel(datetime(2025, 3, 14, 9, 5, tzinfo=UTC), tick=False):
        incident = incident_for()
    page = browser(org.desk_agent, "ru")
    response = page.post(
        "/accounts/preferences/", {"language": "ru", "time_zone": "Asia/Vladivostok"}
    )
    assert response.status_code == 302
    html = page.get(f"/incidents/{incident.pk}/").content.decode()
    assert "14.03.2025 19:05" in html  # UTC+10, Russian date format
    html = browser(org.desk_agent, "en").get(f"/incidents/{incident.pk}/").content.decode()
    assert "14.03.2025 19:05" in html  # the profile language is Russian now
    response = page.post("/accounts/preferences/", {"language": "de", "time_zone": "Mars/Base"})
    assert response.status_code == 422 and set(response.context["form"].errors) == {
        "language",
        "time_zone",
    }


def test_numbers_in_the_locale(org: Org, browser: Callable[..., Client],
                               incident_for: Callable[..., Incident]) -> None:  # fmt: skip
    incident = incident_for(affected_users=12345)
    assert (
        "12,345" in browser(org.desk_agent, "en").get(f"/incidents/{incident.pk}/").content.decode()
    )
    assert (
        "12\xa0345"
        in browser(org.desk_agent, "ru").get(f"/incidents/{incident.pk}/").content.decode()
    )


PAGES = ["/", "/incidents/new/", "/accounts/preferences/"]


def test_strict_csp_and_no_inline_code(org: Org, browser: Callable[..., Client],
                                       incident_for: Callable[..., Incident]) -> None:  # fmt: skip
    incident = incident_for()
    staff = browser(org.desk_agent)
    user = browser(org.reporter)
    responses = [staff.get(p) for p in [*PAGES, f"/incidents/{incident.pk}/"]]
    responses += [
        user.get(p) for p in ("/portal/", "/portal/new/", f"/portal/incidents/{incident.pk}/")
    ]
    for response in responses:
        assert response.status_code == 200
        csp = response["Content-Security-Policy"]
        nonce = re.search(r"'nonce-([^']+)'", csp)
        assert nonce and "unsafe-inline" not in csp and "unsafe-eval" not in csp
        html = response.content.decode()
        assert not re.search(r"\son[a-z]+\s*=", html), "inline event handler"
        assert not re.search(r"\sstyle\s*=", html), "inline style attribute"
        assert "<style" not in html
        for tag in re.findall(r"<script[^>]*>", html):
            assert f'nonce="{nonce.group(1)}"' in tag or 'type="application/json"' in tag, tag
        assert "hx-on" not in html and "js:" not in html
        assert '"allowEval":false' in html and '"includeIndicatorStyles":false' in html
        assert (
            "http://" not in re.sub(r'(href|action)="http://testserver', "", html).split("<body")[0]
        )


def test_every_control_has_a_label(org: Org, browser: Callable[..., Client],
                                   incident_for: Callable[..., Incident]) -> None:  # fmt: skip
    incident = incident_for()
    for path in [*PAGES, f"/incidents/{incident.pk}/"]:
        html = browser(org.desk_agent).get(path).content.decode()
        labelled = set(re.findall(r'<label[^>]*\sfor="([^"]+)"', html))
        for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", html):
            if re.search(r'type="(hidden|submit)"', tag):
                continue
            control_id = re.search(r'\sid="([^"]+)"', tag)
            wrapped = "aria-label=" in tag
            assert (
                wrapped
                or (control_id and control_id.group(1) in labelled)
                or 'type="radio"' in tag
                or 'type="checkbox"' in tag
            ), f"{path}: {tag}"


def test_static_assets_are_served_from_the_package(client: Client) -> None:
    for path in (
        "/static/web/vendor/htmx-2.0.11.min.js",
        "/static/web/app.js",
        "/static/web/app.css",
    ):
        response = client.get(path)
        assert response.status_code == 200, path


def test_expired_session_sends_htmx_to_the_sign_in_page(client: Client) -> None:
    response = client.get("/?queue=all&text=mail", headers={
        "HX-Request": "true", "HX-Target": "queue",
        "HX-Current-URL": "http://testserver/?queue=all"})  # fmt: skip
    assert response.status_code == 204
    assert response["HX-Redirect"] == "/accounts/login/?next=%2F%3Fqueue%3Dall"
    plain = client.get("/?queue=all")
    assert plain.status_code == 302 and plain["Location"].startswith("/accounts/login/")
