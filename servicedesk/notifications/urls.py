"""Pages of communications (docs/ui.md): the user's notifications and the
incident page's communications panel."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "notifications"

urlpatterns = [
    path("notifications/", views.notification_list, name="list"),
    path("notifications/unread-count/", views.unread_count, name="unread-count"),
    path("notifications/read/", views.mark_read, name="read-all"),
    path("notifications/<int:pk>/read/", views.mark_read, name="read"),
    path("notifications/incidents/<int:pk>/", views.incident_panel, name="incident-panel"),
    path("notifications/incidents/<int:pk>/watch/", views.watch, name="watch"),
    path(
        "notifications/incidents/<int:pk>/status-update/", views.status_update, name="status-update"
    ),
    path(
        "notifications/action-requests/<int:pk>/done/",
        views.action_request_done,
        name="action-request-done",
    ),
]
