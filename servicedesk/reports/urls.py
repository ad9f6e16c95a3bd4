"""The reports dashboard, mounted at the site root (``/reports/``)."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "reports"

urlpatterns = [
    path("reports/", views.dashboard, name="dashboard"),
    path("reports/<slug:slug>/", views.detail, name="report"),
    path("reports/<slug:slug>/card/", views.card, name="card"),
]
