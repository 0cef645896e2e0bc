from django.apps import AppConfig


class AiConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "ai"
    verbose_name = "AI gateway"
    # No litellm import here: it costs seconds and ~200 MB, so ai.gateway loads it on first use.

    def ready(self) -> None:
        from celery.signals import worker_init

        from ai.models import WorkspaceProviderKey
        from audit import registry

        worker_init.connect(_warm_up_worker, weak=False)
        # The change log records who set or removed a key, never the key (encrypted or not).
        registry.register(WorkspaceProviderKey, exclude_fields=["api_key"])


def _warm_up_worker(**kwargs) -> None:
    """Load litellm in a Celery worker's main process, before it forks its pool: every child
    then starts with it (sharing the pages) instead of each paying ~3-4 s on its first model
    call, which would stall the runs it holds."""
    from ai import services

    services.warm_up()
