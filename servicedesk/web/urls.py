"""Pages of the web UI (namespace ``web``), then each capability's pages.

The root URLconf includes this module without a namespace, so an app's
``urls.py`` keeps its own ``app_name`` (``problems:board``, not ``web:problems:board``).
"""

from __future__ import annotations

from importlib import import_module

from django.urls import include, path

from .nav import APPS
from .views import account, incident, portal, register, workspace

pages = [
    path("accounts/login/", account.LoginView.as_view(), name="login"),
    path("accounts/logout/", account.LogoutView.as_view(), name="logout"),
    path("accounts/preferences/", account.preferences, name="preferences"),
    path("language/", account.set_language, name="set-language"),
    path("", workspace.workspace, name="workspace"),
    path("bulk/", workspace.bulk, name="bulk"),
    path("incidents/new/", register.register, name="register"),
    path("incidents/new/reporters/", register.reporter_lookup, name="reporter-lookup"),
    path("incidents/new/severity/", register.severity_preview, name="severity-preview"),
    path("incidents/new/items/", register.configuration_items, name="ci-options"),
    path("incidents/<int:pk>/", incident.detail, name="incident"),
    path("incidents/<int:pk>/members/", incident.members, name="group-members"),
    path("incidents/<int:pk>/tasks/<int:task_id>/done/", incident.task_done, name="task-done"),
    path("incidents/<int:pk>/<slug:action>/", incident.action, name="incident-action"),
    path("portal/", portal.home, name="portal"),
    path("portal/new/", portal.report, name="portal-new"),
    path("portal/incidents/<int:pk>/", portal.detail, name="portal-incident"),
    path("portal/incidents/<int:pk>/<slug:action>/", portal.action, name="portal-action"),
]

urlpatterns = [path("", include((pages, "web")))]

# Each capability's pages (``servicedesk/<app>/urls.py``) mount at the site root
# under their own prefixes; apps without pages yet are skipped.
for _app in APPS:
    try:
        import_module(f"servicedesk.{_app}.urls")
    except ModuleNotFoundError as exc:
        if exc.name != f"servicedesk.{_app}.urls":
            raise
        continue
    urlpatterns.append(path("", include(f"servicedesk.{_app}.urls")))
