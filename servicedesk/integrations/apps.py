from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "servicedesk.integrations"
    label = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        # Intake writes its own incident event types (issue 8).
        from .intake.events import register_all

        register_all()
