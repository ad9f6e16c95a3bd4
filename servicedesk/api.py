"""The REST API: ``/api/v1``, OpenAPI 3 at ``/api/v1/openapi.json``, docs at ``/api/v1/docs``."""

from __future__ import annotations

import logging
from importlib import import_module

from django.db import IntegrityError, OperationalError
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError

from servicedesk import __version__
from servicedesk.accounts.auth import api_auth
from servicedesk.core.errors import ServiceError

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
# moment can both pass a check that the database's constraints then settle:
# the loser gets a 409 it can retry, not a 500. Nothing was written (the
# transaction rolled back).
RETRYABLE_SQLSTATES = {"40001", "40P01", "55P03"}  # serialization, deadlock, lock wait
log = logging.getLogger(__name__)


@api.exception_handler(IntegrityError)
def integrity_conflict(request: HttpRequest, exc: IntegrityError) -> HttpResponse:
    log.warning("%s %s lost a race on a constraint: %s", request.method, request.path, exc)
    body = {"detail": "This conflicts with a change made at the same moment; reload and try again."}
    return api.create_response(request, body, status=409)


@api.exception_handler(OperationalError)
def concurrency_conflict(request: HttpRequest, exc: OperationalError) -> HttpResponse:
    if getattr(exc.__cause__, "sqlstate", None) not in RETRYABLE_SQLSTATES:
        raise exc
    log.warning("%s %s was chosen to give way: %s", request.method, request.path, exc)
    body = {"detail": "A concurrent change got in the way; try again."}
    response = api.create_response(request, body, status=409)
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
