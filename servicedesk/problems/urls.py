"""Pages of problem control (docs/ui.md, "Problem portfolio")."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "problems"

urlpatterns = [
    path("problems/", views.board, name="board"),
    path("problems/<int:pk>/", views.detail, name="detail"),
    path("problems/<int:pk>/members/", views.members, name="members"),
    path("problems/<int:pk>/incidents/<int:incident_id>/unlink/", views.unlink, name="unlink"),
    path(
        "problems/<int:pk>/follow-ups/<int:action_id>/done/",
        views.follow_up_done,
        name="follow-up-done",
    ),
    path("problems/incidents/<int:pk>/", views.incident_panel, name="incident-panel"),
    path("problems/<int:pk>/<slug:action>/", views.action, name="action"),
]
