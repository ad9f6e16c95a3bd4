"""Verbs on people and teams: API tokens, group lookup, the manager chain."""

from __future__ import annotations

import copy
import secrets
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F

from servicedesk.core import clock, confcache
from servicedesk.core.digests import secret_digest
from servicedesk.core.errors import NotFound
from servicedesk.core.lookups import KeyedRead

from .models import ApiToken, SupportGroup, User

TOKEN_PREFIX = "sd_"  # noqa: S105 (a marker, not a secret)
# Refresh last_used_at at most this often, so a busy client costs no write per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)

confcache.watch(SupportGroup)


@transaction.atomic
def do_create_token(
    *, user: User, name: str = "", expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """Create a token for ``user``; returns the record and the only copy of the secret."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name, prefix=raw[:10], digest=secret_digest(raw), expires_at=expires_at
    )
    return token, raw


@transaction.atomic
def do_revoke_token(*, token: ApiToken) -> None:
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=clock.now())


# Every API request reads its token: compiled once (core/lookups.py).
_token_by_digest = KeyedRead(
    lambda digest: ApiToken.objects.select_related("user").filter(
        digest=digest, revoked_at__isnull=True
    ),
    keys=(str,),
)


def authenticate_token(raw: str) -> User | None:
    """The active user a bearer token belongs to, or None."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 100:
        return None
    token = _token_by_digest(secret_digest(raw))
    now = clock.now()
    if token is None or not token.user.is_active:
        return None
    if token.expires_at is not None and token.expires_at <= now:
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def _active_groups() -> tuple[SupportGroup, ...]:
    # Specialist groups first within a level, then by id (the order find_group picks in).
    return tuple(
        SupportGroup.objects.filter(is_active=True).order_by(
            "level", F("technology_id").asc(nulls_last=True), "pk"
        )
    )


def find_group(*, level: int, technology_id: int | None) -> SupportGroup | None:
    """The active group at ``level`` for a technology: the specialist group if one
    exists, else the level's generalist group (no technology). (Groups are cached
    per configuration version: see core/confcache.py.)"""
    for group in confcache.cached("accounts.active_groups", _active_groups):
        if group.level == level and group.technology_id in (technology_id, None):
            return copy.copy(group)
    return None


def first_line_group() -> SupportGroup:
    """The service desk: the 1st-line group that owns every incident."""
    group = find_group(level=1, technology_id=None)
    if group is None:
        raise NotFound("No active 1st-line support group is configured.")
    return group


def manager_chain(*, technology_id: int | None, fallback_group: SupportGroup | None = None,
                  limit: int = 10) -> list[User]:  # fmt: skip
    """The hierarchical escalation chain for a technology.

    It starts at the line manager of the technology's 3rd-line group (the
    source's default), or of ``fallback_group`` when there is none, and follows
    each manager's own manager upwards.
    """
    group = find_group(level=3, technology_id=technology_id)
    start = group.manager if group is not None and group.manager_id else None
    if start is None and fallback_group is not None:
        start = fallback_group.manager
    chain: list[User] = []
    person = start
    while person is not None and person not in chain and len(chain) < limit:
        chain.append(person)
        person = person.manager
    return chain
