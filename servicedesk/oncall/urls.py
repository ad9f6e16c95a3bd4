"""On-call pages (namespace ``oncall``), mounted at the site root."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "oncall"

urlpatterns = [
    path("oncall/", views.now, name="now"),
    path("oncall/schedules/<int:pk>/", views.schedule, name="schedule"),
    path("oncall/pages/", views.pages, name="pages"),
    path("oncall/pages/<int:pk>/acknowledge/", views.acknowledge, name="acknowledge"),
]
