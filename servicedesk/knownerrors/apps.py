from django.apps import AppConfig


class KnownErrorsConfig(AppConfig):
    name = "servicedesk.knownerrors"
    label = "knownerrors"
    verbose_name = "Error control"
