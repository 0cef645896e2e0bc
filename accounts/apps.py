from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and workspaces"

    def ready(self) -> None:
        from accounts import lockout, schema, signals  # noqa: F401 - schema: OpenAPI auth
        from accounts.models import WorkspaceSecurityPolicy
        from audit import registry

        lockout.install()
        signals.install()
        registry.register(WorkspaceSecurityPolicy)
