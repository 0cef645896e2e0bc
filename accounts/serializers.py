from django.contrib.auth.password_validation import validate_password
from django.utils import timezone
from rest_framework import serializers

from accounts.models import (
    ApiKey,
    ApiKeyScope,
    Membership,
    Role,
    User,
    Workspace,
    WorkspaceSettings,
)
from accounts.viewsets import WorkspaceField


class RegisterSerializer(serializers.Serializer):
    username = serializers.RegexField(
        r"^[\w.@+-]+\Z",
        max_length=150,
        error_messages={"invalid": "Use letters, digits and @/./+/-/_ only."},
    )
    # Required: a password reset reaches the user by email.
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(write_only=True, max_length=128, trim_whitespace=False)

    def validate_username(self, value: str) -> str:
        if User.objects.filter(username__iexact=value).exists():
            raise serializers.ValidationError("That username is taken.", code="unique")
        return value

    def validate(self, attrs: dict) -> dict:
        user = User(username=attrs["username"], email=attrs.get("email", ""))
        try:
            validate_password(attrs["password"], user)
        except Exception as exc:  # Django's ValidationError: report every rule that failed
            raise serializers.ValidationError({"password": list(exc.messages)}) from exc
        return attrs


class MembershipBriefSerializer(serializers.ModelSerializer):
    workspace_name = serializers.CharField(source="workspace.name", read_only=True)

    class Meta:
        model = Membership
        fields = ["workspace", "workspace_name", "role"]


class UserSerializer(serializers.ModelSerializer):
    memberships = MembershipBriefSerializer(many=True, read_only=True)

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "email",
            "display_name",
            "time_zone",
            "locale",
            "date_joined",
            "is_staff",
            "memberships",
        ]
        read_only_fields = fields


class LogoutSerializer(serializers.Serializer):
    refresh = serializers.CharField(
        required=False, max_length=4096, help_text="Omit to end the access token's session."
    )


class LoginSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()
    session_id = serializers.UUIDField(help_text="The login session these tokens belong to.")


class LoginResultSerializer(serializers.Serializer):
    """Either the token pair, or (MFA on) `mfa_required` with a short-lived `mfa_token`."""

    access = serializers.CharField(required=False)
    refresh = serializers.CharField(required=False)
    session_id = serializers.UUIDField(required=False)
    mfa_required = serializers.BooleanField(required=False)
    mfa_token = serializers.CharField(required=False)
    expires_in = serializers.IntegerField(required=False, help_text="Seconds the token lasts.")


class MfaVerifySerializer(serializers.Serializer):
    mfa_token = serializers.CharField(max_length=2048)
    code = serializers.CharField(max_length=16, required=False, default="")
    recovery_code = serializers.CharField(max_length=32, required=False, default="")

    def validate(self, attrs):
        if bool(attrs["code"]) == bool(attrs["recovery_code"]):
            raise serializers.ValidationError("Give either `code` or `recovery_code`.")
        return attrs


class RefreshSerializer(serializers.Serializer):
    refresh = serializers.CharField(max_length=4096)


class RefreshResultSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class WorkspaceSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()
    member_count = serializers.IntegerField(source="memberships.count", read_only=True)

    class Meta:
        model = Workspace
        fields = ["id", "name", "slug", "is_personal", "role", "member_count", "created_at"]
        read_only_fields = ["slug", "is_personal", "created_at"]

    def get_role(self, workspace: Workspace) -> str | None:
        user = self.context["request"].user
        membership = next((m for m in workspace.memberships.all() if m.user_id == user.pk), None)
        return membership.role if membership else None


class MemberSerializer(serializers.ModelSerializer):
    user_id = serializers.IntegerField(source="user.id", read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)
    email = serializers.CharField(source="user.email", read_only=True)

    class Meta:
        model = Membership
        fields = ["user_id", "username", "email", "role", "created_at"]
        read_only_fields = ["created_at"]


class AddMemberSerializer(serializers.Serializer):
    user = serializers.CharField(max_length=254, help_text="Username or email of an existing user.")
    role = serializers.ChoiceField(choices=Role.choices, default=Role.VIEWER)


class ChangeRoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class ApiKeySerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="prefix", read_only=True)
    workspace = WorkspaceField()
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=ApiKeyScope.choices),
        allow_empty=False,
        default=[ApiKeyScope.READ],
    )
    expires_at = serializers.DateTimeField(
        source="expiry_date", required=False, allow_null=True, default=None
    )
    created_by = serializers.CharField(source="created_by.username", read_only=True)

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "name",
            "workspace",
            "scopes",
            "expires_at",
            "revoked",
            "created",
            "created_by",
            "last_used_at",
        ]
        read_only_fields = ["revoked", "created", "last_used_at"]
        # The model's field has a default of None, which would make it optional here.
        extra_kwargs = {"name": {"required": True, "allow_blank": False}}

    def validate_expires_at(self, value):
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("The expiry must be in the future.")
        return value


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(read_only=True, help_text="The secret; shown only once.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]


class WorkspaceSettingsSerializer(serializers.ModelSerializer):
    default_parameters = serializers.DictField(required=False)

    class Meta:
        model = WorkspaceSettings
        fields = [
            "workspace",
            "default_model",
            "default_parameters",
            "embedding_model",
            "run_retention_days",
            "document_retention_days",
            "usage_retention_days",
            "updated_at",
        ]
        read_only_fields = ["workspace", "updated_at"]
        retention = {
            "required": False,
            "allow_null": True,
            "max_value": 36500,
            "help_text": "Days; empty = the service's setting, 0 = keep for ever.",
        }
        extra_kwargs = {
            "run_retention_days": retention,
            "document_retention_days": retention,
            "usage_retention_days": retention,
        }
