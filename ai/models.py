from django.conf import settings
from django.db import models
from django.utils import timezone

from config.crypto import EncryptedTextField


class Outcome(models.TextChoices):
    SUCCESS = "success", "Success"
    ERROR = "error", "Error"


class UsageRecord(models.Model):
    """One model call through ai.services: cached or not, failed or not."""

    workspace = models.ForeignKey(
        "accounts.Workspace", on_delete=models.CASCADE, related_name="ai_usage"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="ai_usage",
    )
    model = models.CharField(max_length=200)
    provider = models.CharField(max_length=40)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    total_tokens = models.PositiveIntegerField(default=0)
    # Decimal so sums over many calls stay exact; litellm's cost map is per token.
    cost = models.DecimalField(max_digits=14, decimal_places=8, default=0)
    latency_ms = models.FloatField(default=0)
    cached = models.BooleanField(default=False)
    streamed = models.BooleanField(default=False)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.SUCCESS)
    error_code = models.CharField(max_length=60, blank=True)
    error_message = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["workspace", "created_at"], name="ai_usage_ws_time"),
            models.Index(fields=["workspace", "model"], name="ai_usage_ws_model"),
        ]

    def __str__(self) -> str:
        return f"{self.model} {self.outcome} ({self.total_tokens} tokens)"


class BringYourOwnProvider(models.TextChoices):
    """Providers a workspace may bring its own key for (the gateway prefers it)."""

    OPENAI = "openai", "OpenAI"
    ANTHROPIC = "anthropic", "Anthropic"
    GEMINI = "gemini", "Google Gemini"


class WorkspaceProviderKey(models.Model):
    """A workspace's own key for a provider, encrypted at rest and never shown again: the API
    reports only that it is configured and its last four characters."""

    workspace = models.ForeignKey(
        "accounts.Workspace", on_delete=models.CASCADE, related_name="ai_provider_keys"
    )
    provider = models.CharField(max_length=20, choices=BringYourOwnProvider.choices)
    api_key = EncryptedTextField()
    last4 = models.CharField(max_length=4, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["workspace_id", "provider"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "provider"], name="one_provider_key_per_workspace"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider} key of workspace {self.workspace_id}"


class WorkspaceCacheSettings(models.Model):
    """A workspace's own AI reply cache TTL (None: AI_CACHE_TTL; 0: no caching)."""

    workspace = models.OneToOneField(
        "accounts.Workspace", on_delete=models.CASCADE, related_name="ai_cache_settings"
    )
    ttl_seconds = models.PositiveIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"AI cache settings of {self.workspace_id}"
