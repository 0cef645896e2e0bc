from rest_framework import serializers


class ProfileUpdateSerializer(serializers.Serializer):
    display_name = serializers.CharField(max_length=150, allow_blank=True, required=False)
    time_zone = serializers.CharField(
        max_length=64, required=False, help_text="An IANA time zone name, e.g. Europe/Madrid."
    )
    locale = serializers.CharField(
        max_length=16, required=False, help_text="A language code, e.g. en, es, pt-br."
    )

    def validate(self, attrs):
        unknown = (
            set(self.initial_data) - set(self.fields)
            if hasattr(self.initial_data, "keys")
            else set()
        )
        if unknown:
            raise serializers.ValidationError(
                {name: ["Unknown field."] for name in sorted(unknown)}
            )
        return attrs


class EmailChangeSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254, help_text="The new address.")
    password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=2048)


class AccountDeleteSerializer(serializers.Serializer):
    password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)
    code = serializers.CharField(
        max_length=16, required=False, default="", help_text="A current MFA code, if MFA is on."
    )


class EmailChangeRequestedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    pending_email = serializers.EmailField()


class OwnDataSerializer(serializers.Serializer):
    exported_at = serializers.DateTimeField()
    profile = serializers.DictField()
    memberships = serializers.ListField(child=serializers.DictField())
    sessions = serializers.ListField(child=serializers.DictField())
    api_keys = serializers.ListField(child=serializers.DictField())
    invitations_accepted = serializers.ListField(child=serializers.DictField())
    security_events = serializers.ListField(child=serializers.DictField())
