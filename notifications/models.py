"""Notifications: configured channels, templates, rules, preferences, what was sent
(`Notification`), one `Delivery` per recipient and channel, and the in-app inbox."""

import uuid

from django.conf import settings
from django.db import models

from config.crypto import EncryptedTextField


class ChannelKind(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    PUSH = "push", "Push (ntfy or Web Push)"
    WEBHOOK = "webhook", "Webhook"
    SLACK = "slack", "Slack"
    TEAMS = "teams", "Microsoft Teams"
    DISCORD = "discord", "Discord"
    IN_APP = "in_app", "In-app"


# A template serves one channel kind, or "any".
TEMPLATE_CHANNEL_CHOICES = [("any", "Any"), *ChannelKind.choices]


class Priority(models.TextChoices):
    HIGH = "high", "High"
    NORMAL = "normal", "Normal"
    LOW = "low", "Low"


class EventType(models.TextChoices):
    RUN_FAILED = "run.failed", "Run failed"
    RUN_SUCCEEDED = "run.succeeded", "Run succeeded"
    RUN_WAITING = "run.waiting", "Run waiting for approval"
    BUDGET_80 = "budget.80", "Budget at 80%"
    BUDGET_100 = "budget.100", "Budget at 100%"
    SECURITY_ALERT = "security.alert", "Security alert"
    TASK_FAILED = "task.failed", "Background task failed"
    WEEKLY_REPORT = "report.weekly", "Weekly report ready"


class Channel(models.Model):
    """A workspace's configured destination. `config` holds what may be shown (server URL,
    from number, topic); `secret` holds what may not (webhook URLs, tokens, signing secret),
    as JSON encrypted at rest (config.crypto), and never leaves the server after it is created
    (a webhook's generated signing secret is shown once, in the answer that creates it)."""

    workspace = models.ForeignKey(
        "accounts.Workspace", on_delete=models.CASCADE, related_name="notification_channels"
    )
    kind = models.CharField(max_length=10, choices=ChannelKind.choices)
    name = models.CharField(max_length=120)
    config = models.JSONField(default=dict, blank=True)
    secret = EncryptedTextField(
        blank=True, default="", help_text="JSON of the channel's secrets, encrypted at rest."
    )
    is_active = models.BooleanField(default=True)
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="Deliveries per minute; empty = the kind's default."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["workspace_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="one_channel_name_per_ws")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class NotificationTemplate(models.Model):
    """Subject and bodies in the sandboxed template language. `channel` "any" serves every
    channel that has no template of its own under the same key."""

    ANY = "any"

    workspace = models.ForeignKey(
        "accounts.Workspace", on_delete=models.CASCADE, related_name="notification_templates"
    )
    key = models.SlugField(max_length=100)
    channel = models.CharField(max_length=10, default=ANY)
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField()
    html_body = models.TextField(blank=True, help_text="Email only; autoescaped.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["workspace_id", "key", "channel"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "key", "channel"], name="one_template_per_key_channel"
            )
        ]

    def __str__(self) -> str:
        return f"{self.key} [{self.channel}]"


class Rule(models.Model):
    """When `event` happens in the workspace, notify `recipients` on `channel`."""

    workspace = models.ForeignKey(
        "accounts.Workspace", on_delete=models.CASCADE, related_name="notification_rules"
    )
    name = models.CharField(max_length=120)
    event = models.CharField(max_length=20, choices=EventType.choices)
    channel = models.ForeignKey(
        Channel, null=True, blank=True, on_delete=models.CASCADE, related_name="rules"
    )
    channel_kind = models.CharField(max_length=10, choices=ChannelKind.choices)
    recipients = models.JSONField(default=list, blank=True)
    template = models.SlugField(max_length=100, blank=True, help_text="Empty: the event's.")
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    workflow = models.ForeignKey(
        "workflows.Workflow", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["workspace_id", "name"]
        indexes = [models.Index(fields=["workspace", "event", "is_active"])]

    def __str__(self) -> str:
        return self.name


class Preference(models.Model):
    """One user's choices: channels per event type (missing = every channel) and quiet hours
    (deliveries other than high priority wait until they end)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    channels_by_event = models.JSONField(default=dict, blank=True)
    quiet_hours_start = models.TimeField(null=True, blank=True)
    quiet_hours_end = models.TimeField(null=True, blank=True)
    timezone = models.CharField(max_length=64, default="UTC")
    phone = models.CharField(max_length=20, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"preferences of user {self.user_id}"


class EmailOptOut(models.Model):
    """An address that followed an email's opt-out link: no more email to it from the
    workspace."""

    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="+")
    address = models.EmailField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "address"], name="one_opt_out_per_address")
        ]

    def __str__(self) -> str:
        return self.address


class Notification(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(
        "accounts.Workspace", on_delete=models.CASCADE, related_name="notifications"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel_kind = models.CharField(max_length=10, choices=ChannelKind.choices)
    channel = models.ForeignKey(
        Channel, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    event = models.CharField(max_length=20, blank=True)
    rule = models.ForeignKey(
        Rule, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    template_key = models.CharField(max_length=100, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    message = models.TextField()
    html = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)  # links and ids for rich channels
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="one_notification_per_idempotency_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel_kind}: {self.subject or self.message[:40]}"


class DeliveryStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    RETRYING = "retrying", "Retrying"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"  # the recipient's preferences or opt-out said no


CLAIMABLE = (DeliveryStatus.QUEUED, DeliveryStatus.RETRYING)


class Delivery(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="deliveries"
    )
    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="+")
    channel_kind = models.CharField(max_length=10, choices=ChannelKind.choices)
    recipient = models.CharField(max_length=500)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.QUEUED
    )
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=5)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    provider_status = models.IntegerField(null=True, blank=True)
    provider_response = models.CharField(max_length=500, blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True)
    error_code = models.CharField(max_length=60, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    sending_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["workspace", "status"]),
            models.Index(fields=["status", "next_attempt_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.channel_kind} -> {self.recipient} ({self.status})"


class InboxItem(models.Model):
    """An in-app notification for one user."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="inbox_items"
    )
    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="+")
    delivery = models.OneToOneField(
        Delivery, null=True, blank=True, on_delete=models.SET_NULL, related_name="inbox_item"
    )
    subject = models.CharField(max_length=300, blank=True)
    message = models.TextField()
    data = models.JSONField(default=dict, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "read_at"])]

    def __str__(self) -> str:
        return self.subject or self.message[:40]


class PushSubscription(models.Model):
    """A browser's Web Push subscription (`PushSubscription.toJSON()`): the push service's
    endpoint and the browser's keys. Pushes to a user go to every one of theirs; the push
    service answering 404 or 410 (gone) deletes it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_subscriptions"
    )
    endpoint = models.CharField(max_length=2000)
    p256dh = models.CharField(max_length=100, help_text="The browser's P-256 public key.")
    auth = EncryptedTextField(help_text="The browser's 16-byte auth secret, encrypted at rest.")
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_success_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "endpoint"], name="one_push_subscription")
        ]

    def __str__(self) -> str:
        return f"push subscription {self.pk} of user {self.user_id}"


class FiredEvent(models.Model):
    """Events that must notify once (a budget threshold per month): the unique key is the
    guard, so two workers crossing 80% together notify once."""

    key = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.key
