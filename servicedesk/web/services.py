"""Verbs of the web app: a person's own display preferences."""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.db import transaction

from servicedesk.accounts.models import User
from servicedesk.core.errors import FieldError


@transaction.atomic
def do_set_preferences(*, user: User, language: str | None = None,
                       time_zone: str | None = None) -> User:  # fmt: skip
    """Set the user's language ("" follows the browser) and/or time zone.

    Locks the user row. Preferences are the person's own: no permission beyond
    being that person, and no timeline event (no incident changes)."""
    user = User.objects.select_for_update().get(pk=user.pk)
    fields = []
    if language is not None:
        if language and language not in dict(settings.LANGUAGES):
            raise FieldError("language", "must be one of: " + ", ".join(dict(settings.LANGUAGES)))
        user.language = language
        fields.append("language")
    if time_zone is not None:
        if time_zone not in zoneinfo.available_timezones():
            raise FieldError("time_zone", "must be one of the IANA time zones")
        user.time_zone = time_zone
        fields.append("time_zone")
    if fields:
        user.save(update_fields=fields)
    return user
