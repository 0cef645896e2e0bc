from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"

    def ready(self) -> None:
        from realtime import logs, revocation, workspace_topic

        logs.install()
        revocation.install()
        workspace_topic.register()
