from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self):
        from audit.registry import register
        from notifications import receivers
        from notifications.models import Channel, NotificationTemplate, Preference, Rule

        receivers.connect_all()
        # The change log records configuration, never secrets: a channel's `secret` column
        # (webhook URLs, tokens, the signing secret) is left out entirely rather than masked,
        # since auditlog's mask keeps half of the value.
        register(Channel, exclude_fields=["secret"])
        register(NotificationTemplate)
        register(Rule)
        register(Preference, workspace=None, exclude_fields=["phone"])
