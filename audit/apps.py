from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit and security"

    def ready(self) -> None:
        from audit import receivers  # noqa: F401 - Django's auth signals become security events
        from audit.registrations import add_history_to_admin, register_all

        register_all()
        add_history_to_admin()
