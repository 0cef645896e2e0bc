from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and workspaces"

    def ready(self) -> None:
        from accounts import lockout, schema, signals  # noqa: F401 - schema: OpenAPI auth

        lockout.install()
        signals.install()
