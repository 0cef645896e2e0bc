from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from rest_framework_api_key.models import AbstractAPIKey, BaseAPIKeyManager


class User(AbstractUser):
    email = models.EmailField("email address", blank=True, db_index=True)


class Role(models.TextChoices):
    # Ordered from least to most powerful; ROLE_RANK below relies on it.
    VIEWER = "viewer", "Viewer"
    EDITOR = "editor", "Editor"
    ADMIN = "admin", "Admin"
    OWNER = "owner", "Owner"


ROLE_RANK = {role: rank for rank, role in enumerate(Role.values)}


class Workspace(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=140, unique=True)
    is_personal = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="workspaces"
    )

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "workspace"], name="one_membership_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace} ({self.role})"


class ApiKeyScope(models.TextChoices):
    READ = "read", "Read"
    WRITE = "write", "Write"


class ApiKeyManager(BaseAPIKeyManager):
    def get_usable_keys(self):
        return super().get_usable_keys().select_related("created_by", "workspace")


class ApiKey(AbstractAPIKey):
    """A workspace-scoped key. The library stores only `prefix` and a hash of the secret;
    `revoked` and `expiry_date` come from it too."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="api_keys")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    scopes = models.JSONField(default=list)

    objects = ApiKeyManager()
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API key"
        verbose_name_plural = "API keys"
        ordering = ["-created"]

    @property
    def can_write(self) -> bool:
        return ApiKeyScope.WRITE in self.scopes


class WorkspaceSettings(models.Model):
    """Per-workspace settings: one row per workspace, created when first read
    (`accounts.services.settings_for`). Apps add their fields here rather than keeping their
    own settings model; an app that must check a field's value registers a validator in
    `accounts.workspace_settings`."""

    workspace = models.OneToOneField(
        Workspace, on_delete=models.CASCADE, related_name="settings", primary_key=True
    )
    # What new workflows take when their definition names no model or parameters.
    default_model = models.CharField(max_length=200, blank=True)
    default_parameters = models.JSONField(default=dict, blank=True)
    # The model documents are embedded with for semantic search; empty = the offline model.
    embedding_model = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "workspace settings"
        verbose_name_plural = "workspace settings"

    def __str__(self) -> str:
        return f"settings of {self.workspace_id}"
