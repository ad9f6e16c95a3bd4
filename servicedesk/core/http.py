"""HTTP helpers shared by the API routers: ETags, If-Match, prebuilt JSON answers."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja.responses import NinjaJSONEncoder

from .errors import PreconditionFailed


def etag(pk: int, version: int) -> str:
    return f'"{pk}.{version}"'


def expected_version(request: HttpRequest, pk: int) -> int | None:
    """The version an ``If-Match`` header expects, or None when it sets no condition.

    A tag for another record, or one that is not ours, can never match: 412.
    """
    header = request.headers.get("If-Match", "").strip()
    if not header or header == "*":
        return None
    for raw in header.split(","):
        tag = raw.strip().removeprefix("W/").strip('"')
        record, _, version = tag.partition(".")
        if record == str(pk) and version.isdigit() and len(version) < 12:
            return int(version)
    raise PreconditionFailed("If-Match does not match this record's current ETag")


def as_rendered(data: Any) -> Any:
    """``data`` as the API renders it, back as JSON values (to store an answer, e.g.
    for an idempotent retry, exactly as it was sent)."""
    return json.loads(json.dumps(data, cls=NinjaJSONEncoder))


def prebuilt_json(data: Any, status: int = 200) -> HttpResponse:
    """``data`` rendered as the API renders every answer, without validating it
    against the operation's response schema once more: for long lists built by a
    fixed-shape serialiser (e.g. ``incident_out``), where that validation costs
    half the request's CPU. The operation still declares its schema (OpenAPI);
    its tests check that the answer validates against it."""
    return HttpResponse(
        json.dumps(data, cls=NinjaJSONEncoder), status=status, content_type="application/json"
    )
