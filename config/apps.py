from django.apps import AppConfig


class ProjectConfig(AppConfig):
    """Project-wide wiring that belongs to no domain app."""

    name = "config"
    label = "project"

    def ready(self) -> None:
        from config import dbtypes

        dbtypes.install()
