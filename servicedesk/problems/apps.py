from django.apps import AppConfig


class ProblemsConfig(AppConfig):
    name = "servicedesk.problems"
    label = "problems"
    verbose_name = "Problem control"
