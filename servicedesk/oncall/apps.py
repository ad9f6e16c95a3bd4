from django.apps import AppConfig


class OnCallConfig(AppConfig):
    name = "servicedesk.oncall"
    label = "oncall"
    verbose_name = "On-call"
