"""Signed JSON webhooks: the envelope, the signature, and delivery over HTTP.

Receivers verify ``X-ServiceDesk-Signature: sha256=<hex>``, the HMAC-SHA256
of ``<X-ServiceDesk-Timestamp>.<raw body>`` with the endpoint's secret, and
de-duplicate on ``X-ServiceDesk-Message-Id`` (stable across retries).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from typing import Any

import httpx
from django.conf import settings

from servicedesk import __version__
from servicedesk.core.models import OutboxMessage
from servicedesk.core.registry import PermanentFailure

from .models import WebhookEndpoint

_local = threading.local()
RETRYABLE_STATUS = {408, 409, 425, 429}


def _client() -> httpx.Client:
    client = getattr(_local, "client", None)
    if client is None:
        client = _local.client = httpx.Client(
            timeout=settings.SERVICEDESK_WEBHOOK_TIMEOUT, follow_redirects=False
        )
    return client


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, default=str).encode()


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def _target(message: OutboxMessage) -> tuple[str, str]:
    """(url, secret): a registered endpoint's (``meta.endpoint_id``), or the
    message's own destination and ``meta.secret`` (escalation steps, rules)."""
    if "endpoint_id" not in message.meta:
        return message.destination, str(message.meta.get("secret", ""))
    endpoint = WebhookEndpoint.objects.filter(pk=message.meta["endpoint_id"]).first()
    if endpoint is None or not endpoint.active:
        raise PermanentFailure("the webhook endpoint was removed or disabled")
    return endpoint.url, endpoint.secret


def deliver(message: OutboxMessage) -> str:
    """POST the message; success on 2xx, retry on 5xx/408/429, give up on other 4xx."""
    url, secret = _target(message)
    body = encode(message.payload)
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"ServiceDesk/{__version__}",
        "X-ServiceDesk-Event": message.event_type,
        "X-ServiceDesk-Message-Id": str(message.message_id),
        "X-ServiceDesk-Timestamp": timestamp,
    }
    if secret:
        headers["X-ServiceDesk-Signature"] = sign(secret, timestamp, body)
    response = _client().post(url, content=body, headers=headers)
    status = response.status_code
    if 200 <= status < 300:
        return f"HTTP {status}"
    if status >= 500 or status in RETRYABLE_STATUS:
        raise RuntimeError(f"HTTP {status}")
    raise PermanentFailure(f"HTTP {status}")
