"""How bearer secrets are stored: a digest, never the secret.

API tokens, integration tokens and calendar feed keys carry 256 bits of
randomness, so a fast SHA-256 is as safe as a slow password hash for them
and costs microseconds per request.
"""

from __future__ import annotations

import hashlib


def secret_digest(raw: str) -> str:
    """The stored form of a secret; ``surrogatepass`` so that any text a request
    can carry gets a digest (and simply matches nothing) instead of an error."""
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()
