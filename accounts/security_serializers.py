"""Serializers of the security API: sessions, MFA, passwords, policies, lockouts, stats."""

from rest_framework import serializers

from accounts import policies
from accounts.models import LoginSession, WorkspaceSecurityPolicy


class LoginSessionSerializer(serializers.ModelSerializer):
    current = serializers.SerializerMethodField()
    active = serializers.BooleanField(source="is_active", read_only=True)

    class Meta:
        model = LoginSession
        fields = [
            "id",
            "kind",
            "ip",
            "user_agent",
            "mfa_verified",
            "created_at",
            "last_seen_at",
            "expires_at",
            "revoked_at",
            "revoked_reason",
            "active",
            "current",
        ]
        read_only_fields = fields

    def get_current(self, session: LoginSession) -> bool:
        return str(session.pk) == str(self.context.get("current_sid"))


class RevokeAllResultSerializer(serializers.Serializer):
    revoked = serializers.IntegerField()


class MfaStatusSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()
    pending_confirmation = serializers.BooleanField()
    confirmed_at = serializers.DateTimeField(allow_null=True)
    recovery_codes_remaining = serializers.IntegerField()


class TotpEnrolmentSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="Base32 secret, for typing into an app.")
    otpauth_uri = serializers.CharField()
    qr_svg = serializers.CharField(help_text="The otpauth URI as an SVG QR code.")


class CodeSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=16)


class RecoveryCodesSerializer(serializers.Serializer):
    recovery_codes = serializers.ListField(
        child=serializers.CharField(), help_text="Shown once: store them somewhere safe."
    )


class MfaDisableSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=16, required=False, default="")
    password = serializers.CharField(
        max_length=128, required=False, default="", trim_whitespace=False, write_only=True
    )

    def validate(self, attrs):
        if bool(attrs["code"]) == bool(attrs["password"]):
            raise serializers.ValidationError("Give either `code` or `password`.")
        return attrs


class PasswordChangeSerializer(serializers.Serializer):
    old_password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)
    new_password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)


class PasswordChangedSerializer(serializers.Serializer):
    sessions_ended = serializers.IntegerField()


class PasswordResetSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class PasswordResetConfirmSerializer(serializers.Serializer):
    uid = serializers.CharField(max_length=64)
    token = serializers.CharField(max_length=128)
    new_password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


class ValidatePasswordSerializer(serializers.Serializer):
    password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)
    username = serializers.CharField(max_length=150, required=False, default="")
    email = serializers.CharField(max_length=254, required=False, default="")


class PasswordRuleSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class PasswordReportSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    score = serializers.IntegerField(help_text="0 (very weak) to 4 (strong).")
    strength = serializers.CharField()
    length = serializers.IntegerField()
    min_length = serializers.IntegerField()
    errors = PasswordRuleSerializer(many=True)


class SecurityPolicySerializer(serializers.ModelSerializer):
    workspace = serializers.IntegerField(source="workspace_id", read_only=True)
    min_password_length = serializers.IntegerField(
        min_value=8, max_value=128, required=False, allow_null=True
    )
    session_lifetime_minutes = serializers.IntegerField(
        min_value=5, max_value=60 * 24 * 90, required=False, allow_null=True
    )
    idle_timeout_minutes = serializers.IntegerField(
        min_value=5, max_value=60 * 24 * 30, required=False, allow_null=True
    )
    api_key_max_age_days = serializers.IntegerField(
        min_value=1, max_value=3650, required=False, allow_null=True
    )
    allowed_cidrs = serializers.ListField(
        child=serializers.CharField(max_length=64), max_length=100, required=False
    )
    # None until the workspace's policy is first saved.
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = WorkspaceSecurityPolicy
        fields = [
            "workspace",
            "require_mfa",
            "min_password_length",
            "session_lifetime_minutes",
            "idle_timeout_minutes",
            "api_key_max_age_days",
            "allowed_cidrs",
            "updated_at",
        ]
        read_only_fields = ["workspace", "updated_at"]

    def validate_allowed_cidrs(self, value: list[str]) -> list[str]:
        try:
            return policies.normalize_cidrs(value)
        except ValueError as exc:
            raise serializers.ValidationError(
                f"'{exc.args[0]}' is not an IP network in CIDR notation (e.g. 10.0.0.0/8)."
            ) from None


class UnlockSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)


class UnlockResultSerializer(serializers.Serializer):
    username = serializers.CharField()
    attempts_cleared = serializers.IntegerField()


class LockoutSerializer(serializers.Serializer):
    username = serializers.CharField()
    failures = serializers.IntegerField()
    last_failure = serializers.DateTimeField()
    locked = serializers.BooleanField()


class SecurityStatsQuerySerializer(serializers.Serializer):
    time_range = serializers.ChoiceField(
        choices=["hour", "day", "week", "month"], required=False, default="day"
    )
