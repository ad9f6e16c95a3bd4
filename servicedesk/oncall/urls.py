"""On-call pages (namespace ``oncall``), mounted at the site root."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "oncall"

urlpatterns = [
    path("oncall/", views.now, name="now"),
    path("oncall/schedules/<int:pk>/", views.schedule, name="schedule"),
    path("oncall/schedules/<int:pk>/feed.ics", views.feed, name="feed"),
    path("oncall/schedules/<int:pk>/feed-link/", views.feed_link, name="feed-link"),
    path("oncall/pages/", views.pages, name="pages"),
    path("oncall/pages/<int:pk>/acknowledge/", views.acknowledge, name="acknowledge"),
]
