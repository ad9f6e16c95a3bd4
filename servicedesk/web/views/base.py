"""What every page view shares: who is asking, and full page or HTMX fragment."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, cast
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode

from servicedesk.accounts.models import User
from servicedesk.core import clock
from servicedesk.core.errors import ServiceError, race_lost

from .. import errors

View = Callable[..., HttpResponse]


def user_of(request: HttpRequest) -> User:
    return cast(User, request.user)


def is_staff(user: User) -> bool:
    return bool(user.is_support_staff or user.is_superuser)


def signed_in(view: View) -> View:
    """``login_required``, also for htmx requests: a fragment request whose session
    ran out makes the browser load the sign-in page, instead of swapping the
    sign-in page into a part of the page it came from."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated and getattr(request, "htmx", False):
            current = urlsplit(request.headers.get("HX-Current-URL", ""))
            page = current.path + (f"?{current.query}" if current.query else "")
            target = safe_next(request, page or None, reverse("web:workspace"))
            response = HttpResponse(status=204)
            response["HX-Redirect"] = f"{settings.LOGIN_URL}?{urlencode({'next': target})}"
            return response
        return login_required(view)(request, *args, **kwargs)

    return wrapper


def staff_required(view: View) -> View:
    """Support staff only; end users are sent to the self-service portal."""

    @signed_in
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_staff(user_of(request)):
            return HttpResponseRedirect(reverse("web:portal"))
        return view(request, *args, **kwargs)

    return wrapper


def htmx_target(request: HttpRequest) -> str | None:
    """The element id an HTMX request will swap, or None for a full page load."""
    details = getattr(request, "htmx", None)
    if not details:
        return None
    return str(details.target or "")


def page_or_fragment(
    request: HttpRequest, page: str, fragments: dict[str, str], context: dict[str, Any],
    status: int = 200,
) -> HttpResponse:  # fmt: skip
    """Render ``page``, or, for an HTMX request aimed at one of ``fragments``' ids,
    only that fragment's template (the page includes the same template)."""
    context.setdefault("now_utc", clock.now())
    target = htmx_target(request)
    template = fragments.get(target, page) if target else page
    response = render(request, template, context, status=status)
    response["Vary"] = "HX-Request, HX-Target"
    return response


def perform_action(
    request: HttpRequest,
    subject: Any,
    actions: dict[str, Any],
    action: str,
    attach: Callable[[Any, ServiceError], None] | None = None,
) -> tuple[str, Any] | None:
    """Validate the posted form of ``action`` (``actions[action]`` is its form class,
    handler and success message) and run its handler on ``subject``: None when it
    was done, else the action and its bound form with the errors next to fields."""
    if action not in actions:
        raise Http404
    form_class, handler, done = actions[action]
    form = form_class(request.POST, prefix=action)
    if form.is_valid():
        try:
            handler(user_of(request), subject, form.cleaned_data)
        except ServiceError as exc:
            (attach or errors.attach)(form, exc)
        except DatabaseError as exc:
            if (lost := race_lost(exc)) is None:
                raise
            (attach or errors.attach)(form, lost)
        else:
            messages.success(request, str(done))
            return None
    return action, form


def after_action(
    request: HttpRequest, context: dict[str, Any], *, main: str, page: str, redirect_to: str,
    refused: bool,
) -> HttpResponse:  # fmt: skip
    """The answer to an action on a record's page: its main part for HTMX; after a
    plain form, a redirect when it succeeded, else the page with the refused form."""
    status = 422 if refused else 200
    if htmx_target(request):
        context["fragment"] = True
        response = render(request, main, context, status=status)
    elif not refused:
        return HttpResponseRedirect(redirect_to)
    else:
        response = render(request, page, context, status=status)
    response["Vary"] = "HX-Request, HX-Target"
    return response


def safe_next(request: HttpRequest, candidate: str | None, default: str) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default
