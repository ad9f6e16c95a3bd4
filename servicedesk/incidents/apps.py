from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "servicedesk.incidents"
    label = "incidents"
    verbose_name = "Incidents"
