from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "servicedesk.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        # Each app declares its event listeners (listeners.py) and its worker
        # handlers, periodic jobs and outbox channels (tasks.py); importing the
        # modules registers them, in every process (web and worker alike).
        from django.utils.module_loading import autodiscover_modules

        autodiscover_modules("listeners")
        autodiscover_modules("tasks")

        # The configuration cache's triggers, after every migrate and flush (post_migrate
        # is sent per app once all migrations ran: core's is enough).
        from django.db.models.signals import post_migrate

        from . import confcache

        post_migrate.connect(confcache.on_post_migrate, sender=self, dispatch_uid="core.confcache")
