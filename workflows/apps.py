from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    name = "workflows"
    verbose_name = "Workflows, runs and documents"

    def ready(self) -> None:
        from workflows import realtime_topics

        # join_workflow / join_run over the WebSocket (realtime knows no domain app).
        realtime_topics.register()
        # A workspace's default parameters must be ones a workflow definition accepts.
        from accounts.workspace_settings import register_validator
        from workflows.definition import check_parameters

        register_validator("default_parameters", check_parameters)
        # Cancelling runs before a workspace is deleted, its export archive, data retention.
        from workflows import workspace_data

        workspace_data.register()
