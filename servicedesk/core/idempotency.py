"""Idempotent creates: a retried request with the same ``Idempotency-Key`` gets the first result.

The key row is inserted in the same transaction as the record it creates, and
a unique constraint (user, key) decides the race: a concurrent duplicate
waits for the first transaction and then reads its stored response. A create
that fails stores nothing, so it can be retried.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction

from .errors import FieldError
from .models import IdempotencyKey

MAX_KEY_LENGTH = 255


def run(
    *,
    user: Any,
    key: str | None,
    scope: str,
    body: bytes,
    create: Callable[[], tuple[int, dict[str, Any]]],
) -> tuple[int, dict[str, Any], bool]:
    """Run ``create`` once per (user, key); returns (status, body, replayed)."""
    if not key:
        status, response = create()
        return status, response, False
    if len(key) > MAX_KEY_LENGTH or not key.isprintable() or not key.isascii():
        raise FieldError(["header", "Idempotency-Key"], "must be 1-255 printable ASCII characters")
    fingerprint = hashlib.sha256(scope.encode() + b"\n" + body).hexdigest()
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = IdempotencyKey.objects.create(
                    user=user, key=key, scope=scope, fingerprint=fingerprint
                )
        except IntegrityError:
            first = IdempotencyKey.objects.get(user=user, key=key)
            if first.fingerprint != fingerprint:
                raise FieldError(
                    ["header", "Idempotency-Key"],
                    "this key was already used for a different request",
                ) from None
            return first.status_code, first.response, True
        status, response = create()
        record.status_code = status
        record.response = response
        record.save(update_fields=["status_code", "response"])
    return status, response, False
