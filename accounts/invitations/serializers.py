from rest_framework import serializers

from accounts.invitations.selectors import STATUSES
from accounts.models import Invitation, Role
from accounts.serializers import UserSerializer


class InvitationSerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=Invitation.Status.choices, read_only=True)
    invited_by = serializers.CharField(
        source="invited_by.username", read_only=True, allow_null=True, default=None
    )
    workspace_name = serializers.CharField(source="workspace.name", read_only=True)

    class Meta:
        model = Invitation
        fields = [
            "id",
            "workspace",
            "workspace_name",
            "email",
            "role",
            "status",
            "invited_by",
            "created_at",
            "expires_at",
            "accepted_at",
            "revoked_at",
        ]
        read_only_fields = fields


class InvitationCreateSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    role = serializers.ChoiceField(choices=Role.choices, default=Role.VIEWER)


class InvitationListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=STATUSES, default="pending", required=False)


class InvitationTokenQuerySerializer(serializers.Serializer):
    token = serializers.CharField(max_length=2048)


class AcceptSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=2048)
    username = serializers.RegexField(
        r"^[\w.@+-]+\Z",
        max_length=150,
        required=False,
        error_messages={"invalid": "Use letters, digits and @/./+/-/_ only."},
        help_text="With `password`: make an account for the invited address and accept.",
    )
    password = serializers.CharField(
        max_length=128, trim_whitespace=False, write_only=True, required=False
    )

    def validate(self, attrs):
        if ("username" in attrs) != ("password" in attrs):
            raise serializers.ValidationError("Give both `username` and `password`, or neither.")
        return attrs


class AcceptedSerializer(serializers.Serializer):
    workspace = serializers.IntegerField()
    workspace_name = serializers.CharField()
    role = serializers.ChoiceField(choices=Role.choices)
    user = UserSerializer()
    access = serializers.CharField(required=False, help_text="Only when an account was made.")
    refresh = serializers.CharField(required=False)
    session_id = serializers.UUIDField(required=False)
