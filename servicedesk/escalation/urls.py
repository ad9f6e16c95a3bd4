"""Escalation pages (namespace ``escalation``), mounted at the site root."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "escalation"

urlpatterns = [
    path("escalation/incidents/<int:pk>/plan/", views.plan, name="plan"),
]
