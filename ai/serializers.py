from rest_framework import serializers

from ai.models import UsageRecord
from config.api.viewsets import WorkspaceField


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know: a typo like `max_token` must not pass silently."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class GenerateSerializer(StrictSerializer):
    prompt = serializers.CharField(trim_whitespace=False)
    system = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    model = serializers.CharField(required=False, max_length=200)
    provider = serializers.CharField(required=False, max_length=40)
    temperature = serializers.FloatField(required=False, min_value=0.0, max_value=2.0)
    max_tokens = serializers.IntegerField(required=False, min_value=1)
    response_schema = serializers.JSONField(required=False)
    use_cache = serializers.BooleanField(required=False, default=True)
    stream = serializers.BooleanField(required=False, default=False)
    latency_ms = serializers.IntegerField(
        required=False, min_value=0, max_value=60_000, help_text="Offline model only."
    )
    timeout = serializers.FloatField(required=False, min_value=0.1, max_value=600)
    workspace = WorkspaceField()

    def validate_prompt(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("The prompt is empty.", code="blank")
        return value


class UsageSerializer(serializers.Serializer):
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()


class GenerateResultSerializer(serializers.Serializer):
    content = serializers.CharField()
    model = serializers.CharField()
    provider = serializers.CharField()
    usage = UsageSerializer()
    cost = serializers.FloatField()
    cached = serializers.BooleanField()
    latency_ms = serializers.FloatField()
    finish_reason = serializers.CharField()
    data = serializers.JSONField(required=False, allow_null=True)
    usage_id = serializers.IntegerField(allow_null=True)


class AnalyzeSerializer(StrictSerializer):
    text = serializers.CharField(trim_whitespace=False)
    use_model = serializers.BooleanField(required=False, default=False)
    workspace = WorkspaceField()

    def validate_text(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("There is no text to analyze.", code="blank")
        return value


class UsageRecordSerializer(serializers.ModelSerializer):
    cost = serializers.FloatField()

    class Meta:
        model = UsageRecord
        fields = [
            "id",
            "workspace",
            "user",
            "model",
            "provider",
            "prompt_tokens",
            "completion_tokens",
            "total_tokens",
            "cost",
            "latency_ms",
            "cached",
            "streamed",
            "outcome",
            "error_code",
            "error_message",
            "created_at",
        ]
        read_only_fields = fields


class SentimentSerializer(serializers.Serializer):
    label = serializers.ChoiceField(choices=["positive", "neutral", "negative"])
    score = serializers.FloatField(help_text="VADER compound score, -1 to 1.")


class ReadabilitySerializer(serializers.Serializer):
    flesch_reading_ease = serializers.FloatField()
    grade_level = serializers.FloatField()
    word_count = serializers.IntegerField()
    sentence_count = serializers.IntegerField()


class AnalysisResultSerializer(serializers.Serializer):
    sentiment = SentimentSerializer()
    keywords = serializers.ListField(child=serializers.CharField())
    summary = serializers.CharField()
    readability = ReadabilitySerializer()
    model = serializers.CharField(required=False, help_text="Only with use_model.")


class ModelInfoSerializer(serializers.Serializer):
    id = serializers.CharField()
    provider = serializers.CharField()
    description = serializers.CharField()
    default = serializers.BooleanField()


class ProviderInfoSerializer(serializers.Serializer):
    id = serializers.CharField()
    configured = serializers.BooleanField()


class ModelsSerializer(serializers.Serializer):
    default_model = serializers.CharField()
    providers = ProviderInfoSerializer(many=True)
    models = ModelInfoSerializer(many=True)


class ProviderKeyStatusSerializer(serializers.Serializer):
    """What the API says about a workspace's own provider key: never the key itself."""

    provider = serializers.CharField()
    configured = serializers.BooleanField()
    last4 = serializers.CharField(help_text="The key's last four characters ('' when unset).")
    updated_at = serializers.DateTimeField(allow_null=True)


class ProviderKeyListSerializer(serializers.Serializer):
    workspace = serializers.IntegerField()
    providers = ProviderKeyStatusSerializer(many=True)


class ProviderKeyInputSerializer(serializers.Serializer):
    api_key = serializers.RegexField(
        r"^[\x21-\x7e]+\Z",
        min_length=8,
        max_length=500,
        write_only=True,
        error_messages={"invalid": "A key is printable characters without spaces."},
    )
