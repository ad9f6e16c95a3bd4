"""Pages of error control (docs/ui.md): the KEDB and fix projects for support
staff, the incident page's known-error panel, published workarounds in the portal."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "knownerrors"

urlpatterns = [
    path("known-errors/", views.known_error_list, name="list"),
    path("known-errors/<int:pk>/", views.known_error_detail, name="detail"),
    path("known-errors/fix-projects/", views.fix_project_list, name="fix-projects"),
    path("known-errors/incidents/<int:pk>/", views.incident_panel, name="incident-panel"),
    path("known-errors/incidents/<int:pk>/apply/", views.apply_workaround, name="apply"),
    path("known-errors/registration/", views.registration_matches, name="registration-matches"),
    path("portal/solutions/", views.solutions, name="solutions"),
    path("portal/solutions/<int:pk>/", views.solution, name="solution"),
]
