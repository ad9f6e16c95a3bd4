"""Fixtures of the page tests: signed-in browsers-without-JS (Django's client)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from servicedesk.accounts.models import User
from servicedesk.incidents import services
from servicedesk.incidents.models import Incident
from servicedesk.testing.org import Org


@pytest.fixture
def browser() -> Callable[..., Client]:
    """``browser(user, language="en")``: a client signed in as ``user``."""

    def make(user: User, language: str = "en") -> Client:
        client = Client(headers={"accept-language": language})
        client.force_login(user)
        return client

    return make


@pytest.fixture
def incident_for(org: Org) -> Callable[..., Incident]:
    def make(**kw: Any) -> Incident:
        kw.setdefault("title", "Cannot receive e-mail")
        kw.setdefault("reporter", org.reporter)
        return services.do_create_incident(actor=kw.pop("actor", org.desk_agent), **kw)

    return make


HTMX = {"HX-Request": "true", "HX-Target": "incident-main"}
