"""The REST API: ``/api/v1``, OpenAPI 3 at ``/api/v1/openapi.json``, docs at ``/api/v1/docs``."""

from __future__ import annotations

import logging
from importlib import import_module

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError

from servicedesk import __version__
from servicedesk.accounts.auth import api_auth
from servicedesk.core.errors import ServiceError, race_lost

api = NinjaAPI(
    title="ServiceDesk API",
    version=__version__,
    description=(
        "Incidents, problems, known errors, escalation and reports. Authenticate with "
        "`Authorization: Bearer <token>` (`servicedesk token create USERNAME`) or a browser "
        'session. Lists are cursor-paginated: `{"items": [...], "next": cursor}`. Writes '
        "honour `If-Match` (412 on a stale ETag) and creates honour `Idempotency-Key`."
    ),
    auth=api_auth,
    urls_namespace="api",
    docs_url="/docs",
)


@api.exception_handler(ServiceError)
def service_error(request: HttpRequest, exc: ServiceError) -> HttpResponse:
    return api.create_response(request, exc.as_body(), status=exc.status_code)


@api.exception_handler(AuthenticationError)
def unauthorised(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = api.create_response(request, {"detail": "Authentication required."}, status=401)
    response["WWW-Authenticate"] = 'Bearer realm="servicedesk"'
    return response


# Services check what they can before writing, but two requests at the same
# moment can both pass a check that the database then settles: the loser gets
# a 409 it can retry, not a 500 (its transaction rolled back).
log = logging.getLogger(__name__)


@api.exception_handler(DatabaseError)
def database_conflict(request: HttpRequest, exc: DatabaseError) -> HttpResponse:
    lost = race_lost(exc)
    if lost is None:
        raise exc
    log.warning("%s %s lost a race: %s", request.method, request.path, exc)
    response = api.create_response(request, lost.as_body(), status=lost.status_code)
    if lost.retry:
        response["Retry-After"] = "1"
    return response


# Each domain app contributes one router with its own paths; apps without an
# api.py yet are skipped.
APPS = [
    "core", "accounts", "catalog", "incidents", "escalation", "oncall", "problems",
    "knownerrors", "notifications", "integrations", "reports",
]  # fmt: skip
for _app in APPS:
    try:
        _module = import_module(f"servicedesk.{_app}.api")
    except ModuleNotFoundError as exc:
        if exc.name != f"servicedesk.{_app}.api":
            raise
        continue
    api.add_router("/", _module.router)
