"""Passwords, login throttling, API tokens, sessions with CSRF, security headers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.hashers import identify_hasher
from django.core.management import call_command
from django.test import Client

from servicedesk.accounts.models import ApiToken, User
from servicedesk.accounts.services import authenticate_token, do_create_token
from servicedesk.testing.api import ApiClient
from servicedesk.testing.org import Org

pytestmark = pytest.mark.django_db


def test_passwords_are_hashed_with_argon2(org: Org, settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    org.reporter.set_password("a long passphrase")
    org.reporter.save()
    assert identify_hasher(org.reporter.password).algorithm == "argon2"


def test_tokens_are_stored_as_digests_and_revocable(org: Org) -> None:
    token, raw = do_create_token(user=org.desk_agent, name="script")
    assert raw.startswith("sd_")
    assert len(raw) > 40
    stored = ApiToken.objects.get(pk=token.pk)
    assert raw not in (stored.digest, stored.prefix)
    assert stored.digest != raw
    assert authenticate_token(raw) == org.desk_agent
    assert authenticate_token(raw + "x") is None
    org.desk_agent.is_active = False
    org.desk_agent.save()
    assert authenticate_token(raw) is None


def test_token_command_prints_a_working_token(org: Org, capsys: Any) -> None:
    call_command("token", "create", "desk_agent", "--name", "cli")
    raw = capsys.readouterr().out.strip()
    assert authenticate_token(raw) == org.desk_agent


def test_login_is_throttled(org: Org, settings: Any) -> None:
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 3
    client = Client()
    for _ in range(3):
        client.post("/accounts/login/", {"username": "desk_agent", "password": "wrong"})
    locked = client.post("/accounts/login/", {"username": "desk_agent", "password": "pw-for-tests"})
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session


def test_login_works_and_session_reaches_the_api_with_csrf(org: Org) -> None:
    client = Client(enforce_csrf_checks=True)
    page = client.get("/accounts/login/")
    csrf = page.cookies["csrftoken"].value
    response = client.post("/accounts/login/", {"username": "desk_agent", "password": "pw-for-tests",
                                                "csrfmiddlewaretoken": csrf})  # fmt: skip
    assert response.status_code == 302
    assert client.get("/api/v1/users/me").json()["username"] == "desk_agent"
    no_csrf = client.post("/api/v1/incidents", '{"title": "x"}', content_type="application/json")
    assert no_csrf.status_code == 403
    csrf = client.cookies["csrftoken"].value
    with_csrf = client.post("/api/v1/incidents", '{"title": "x"}', content_type="application/json",
                            headers={"X-CSRFToken": csrf})  # fmt: skip
    assert with_csrf.status_code == 201


def test_security_headers_and_csp(org: Org) -> None:
    response = Client().get("/accounts/login/")
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "object-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-eval" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_api_docs_and_schema_are_served_offline(
    org: Org, api: Callable[[User | None], ApiClient]
) -> None:
    client = Client()
    client.force_login(org.desk_agent)
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()
    schema = client.get("/api/v1/openapi.json").json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/incidents/{incident_id}/escalate" in schema["paths"]


def test_end_users_cannot_list_people(org: Org, api: Callable[[User | None], ApiClient]) -> None:
    assert api(org.reporter).get("/users").status_code == 404
    assert api(org.reporter).get(f"/users/{org.reporter.pk}").json()["username"] == "reporter"
    assert api(org.reporter).get(f"/users/{org.desk_agent.pk}").status_code == 404
    found = api(org.desk_agent).get("/users", text=org.reporter.phone).json()["items"]
    assert [u["username"] for u in found] == ["reporter"]
