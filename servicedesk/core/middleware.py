"""Per-user time zone and language; lost races answered as such."""

from __future__ import annotations

import logging
import zoneinfo
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone, translation

from .errors import race_lost


class UserPreferencesMiddleware:
    """Activate the signed-in user's time zone and, when set, their language.

    Without a profile language the browser's (LocaleMiddleware) stays in effect.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            try:
                timezone.activate(zoneinfo.ZoneInfo(user.time_zone or "UTC"))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
            if user.language:
                translation.activate(user.language)
                request.LANGUAGE_CODE = user.language
        response = self.get_response(request)
        timezone.deactivate()
        return response


log = logging.getLogger(__name__)


class RaceLostMiddleware:
    """A page whose request lost a race in the database (``core.errors.race_lost``:
    a unique constraint that settled two simultaneous writes, a deadlock, a
    lock timeout) says "try again" with a 409 instead of failing with a 500.
    The API answers these itself; the incident page's actions show them on
    their forms. An htmx request gets the sentence as text (app.js shows it)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        lost = race_lost(exception)
        if lost is None:
            return None
        log.warning("%s %s lost a race: %s", request.method, request.path, exception)
        if request.headers.get("HX-Request") == "true":
            response = HttpResponse(lost.message, content_type="text/plain; charset=utf-8")
        else:
            back = request.headers.get("Referer") or request.path
            context = {"message": lost.message, "back": back}
            response = render(request, "web/race_lost.html", context)
        response.status_code = 409
        return response
