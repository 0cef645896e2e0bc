import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django_otp.models import Device, ThrottlingMixin
from rest_framework_api_key.models import AbstractAPIKey, BaseAPIKeyManager

from config.crypto import EncryptedTextField


class User(AbstractUser):
    email = models.EmailField("email address", blank=True, db_index=True)
    # The profile (PATCH /api/v3/auth/me): how the user is shown, and their time zone
    # (an IANA name) and locale (a language code from settings.LANGUAGES).
    display_name = models.CharField(max_length=150, blank=True)
    time_zone = models.CharField(max_length=64, default="UTC")
    locale = models.CharField(max_length=16, default="en")


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


class LoginSession(models.Model):
    """One login: a JWT refresh-token family (its tokens carry `sid` = this id) or a browser
    session (the admin, the browsable API). Revocation is stored here, the truth; a Redis cache
    answers the per-request check (accounts/sessions.py)."""

    class Kind(models.TextChoices):
        TOKEN = "token", "API tokens (JWT)"
        BROWSER = "browser", "Browser session"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="login_sessions"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.TOKEN)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    mfa_verified = models.BooleanField(default=False)
    # A browser login's Django session key, deleted when the session is revoked.
    session_key = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["-last_seen_at"]
        indexes = [models.Index(fields=["user", "revoked_at"], name="login_session_user_active")]

    def __str__(self) -> str:
        return f"{self.kind} session of {self.user_id} from {self.ip or '?'}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()


class TOTPDevice(ThrottlingMixin, Device):
    """A TOTP authenticator (django-otp's device API, ThrottlingMixin's back-off). Ours rather
    than `otp_totp.TOTPDevice` because that one stores its key in plain text: this key is
    encrypted at rest. One per user; unconfirmed until a first code proves the enrolment."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="totp_device"
    )
    secret = EncryptedTextField(help_text="Base32 TOTP secret, encrypted at rest.")
    last_t = models.BigIntegerField(default=-1, help_text="Time step of the last code accepted.")
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "TOTP device"

    def get_throttle_factor(self) -> int:
        return settings.MFA_THROTTLE_FACTOR


class RecoveryCode(models.Model):
    """A single-use MFA recovery code, stored as a SHA-256 digest (the codes are random, 50
    bits each, so a fast hash cannot be brute-forced from the digest, and the lookup is exact)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes"
    )
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"recovery code {self.pk} of {self.user_id}"


class WorkspaceSecurityPolicy(models.Model):
    """A workspace's security rules. Rules about a person (MFA, passwords, sessions) apply to
    each member at the strictest among their workspaces; IP ranges and key age apply to the
    workspace's own keys and objects. Empty values mean no rule."""

    workspace = models.OneToOneField(
        Workspace, on_delete=models.CASCADE, related_name="security_policy"
    )
    require_mfa = models.BooleanField(default=False)
    min_password_length = models.PositiveSmallIntegerField(null=True, blank=True)
    session_lifetime_minutes = models.PositiveIntegerField(null=True, blank=True)
    idle_timeout_minutes = models.PositiveIntegerField(null=True, blank=True)
    api_key_max_age_days = models.PositiveIntegerField(null=True, blank=True)
    allowed_cidrs = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name_plural = "workspace security policies"

    def __str__(self) -> str:
        return f"security policy of {self.workspace}"


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
    # Data retention (accounts.retention): days after which finished runs, documents and AI
    # usage records are deleted; empty = the service's setting (RUN_RETENTION_DAYS, ...),
    # 0 = kept for ever.
    run_retention_days = models.PositiveIntegerField(null=True, blank=True)
    document_retention_days = models.PositiveIntegerField(null=True, blank=True)
    usage_retention_days = models.PositiveIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "workspace settings"
        verbose_name_plural = "workspace settings"

    def __str__(self) -> str:
        return f"settings of {self.workspace_id}"


class Invitation(models.Model):
    """An invitation to join a workspace with a role, sent by email as a signed link. Only a
    digest of the link's nonce is stored; the link works once, until `expires_at`."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        REVOKED = "revoked", "Revoked"
        EXPIRED = "expired", "Expired"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    nonce_digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["workspace", "email"], name="invitation_ws_email")]

    def __str__(self) -> str:
        return f"invitation of {self.email} to {self.workspace_id} ({self.role})"

    @property
    def status(self) -> str:
        if self.accepted_at is not None:
            return self.Status.ACCEPTED
        if self.revoked_at is not None:
            return self.Status.REVOKED
        if self.expires_at <= timezone.now():
            return self.Status.EXPIRED
        return self.Status.PENDING
