from rest_framework import serializers

from accounts.models import User
from accounts.serializers import MembershipBriefSerializer


class StaffUserSerializer(serializers.ModelSerializer):
    mfa_enabled = serializers.BooleanField(read_only=True)
    memberships = MembershipBriefSerializer(many=True, read_only=True)

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "email",
            "display_name",
            "is_active",
            "is_staff",
            "mfa_enabled",
            "date_joined",
            "last_login",
            "memberships",
        ]
        read_only_fields = fields


class StaffActionResultSerializer(serializers.Serializer):
    user = StaffUserSerializer()
    sessions_ended = serializers.IntegerField(required=False)
    attempts_cleared = serializers.IntegerField(required=False)
    had_mfa = serializers.BooleanField(required=False)
