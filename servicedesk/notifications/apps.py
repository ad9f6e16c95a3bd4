from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "servicedesk.notifications"
    label = "notifications"
    verbose_name = "Communications"

    def ready(self) -> None:
        # The incident event types this app writes must be known before any
        # service appends one (the timeline validates every payload).
        from . import timeline

        timeline.register()
