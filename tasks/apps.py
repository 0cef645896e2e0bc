from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.module_loading import autodiscover_modules


class TasksConfig(AppConfig):
    name = "tasks"
    verbose_name = "Background tasks"

    def ready(self):
        # Every app's task types (this one's too): `<app>/task_types.py`. Importing them here
        # keeps `tasks` free of imports of domain apps.
        autodiscover_modules("task_types")
        from tasks.schedule import install_default_schedule

        post_migrate.connect(
            install_default_schedule, sender=self, dispatch_uid="tasks.default_schedule"
        )
