from django.apps import AppConfig
from django.db.models.signals import post_migrate


class WorkflowsConfig(AppConfig):
    name = "workflows"
    verbose_name = "Workflows, runs and documents"

    def ready(self) -> None:
        from workflows.engine.sweep import install_sweep_schedule

        # The engine's lease sweep is a beat job that `migrate` installs.
        post_migrate.connect(
            install_sweep_schedule, sender=self, dispatch_uid="workflows.sweep_schedule"
        )
