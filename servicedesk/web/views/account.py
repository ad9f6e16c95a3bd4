"""Sign-in, sign-out, language and personal preferences."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from servicedesk.core.errors import ServiceError

from .. import errors, services
from ..forms import PreferencesForm
from .base import is_staff, safe_next, user_of


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def get_default_redirect_url(self) -> str:
        if self.request.user.is_authenticated and not is_staff(user_of(self.request)):
            return reverse("web:portal")
        return reverse("web:workspace")


class LogoutView(auth_views.LogoutView):
    next_page = "/accounts/login/"


def _set_cookie(response: HttpResponse, language: str) -> None:
    if language:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME, language, max_age=365 * 24 * 3600,
            samesite="Lax", secure=settings.SESSION_COOKIE_SECURE, httponly=True,
        )  # fmt: skip
    else:
        response.delete_cookie(settings.LANGUAGE_COOKIE_NAME)


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """The language switcher: the choice goes into the signed-in user's profile (blank
    follows the browser) and into a cookie, which also serves signed-out pages."""
    language = request.POST.get("language", "")
    if language and language not in dict(settings.LANGUAGES):
        language = ""
    if request.user.is_authenticated:
        services.do_set_preferences(user=user_of(request), language=language)
    response = HttpResponseRedirect(
        safe_next(request, request.POST.get("next"), reverse("web:workspace"))
    )
    _set_cookie(response, language)
    return response


@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    user = user_of(request)
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if form.is_valid():
            try:
                services.do_set_preferences(
                    user=user, language=form.cleaned_data["language"],
                    time_zone=form.cleaned_data["time_zone"],
                )  # fmt: skip
            except ServiceError as exc:
                errors.attach(form, exc)
            else:
                language = form.cleaned_data["language"]
                if language:
                    translation.activate(language)
                messages.success(request, _("Your preferences are saved."))
                response = HttpResponseRedirect(reverse("web:preferences"))
                _set_cookie(response, language)
                return response
    else:
        form = PreferencesForm(initial={"language": user.language, "time_zone": user.time_zone})
    context: dict[str, Any] = {"form": form}
    return render(request, "web/preferences.html", context, status=422 if form.errors else 200)
