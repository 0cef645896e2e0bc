from django.apps import AppConfig


class AiConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "ai"
    verbose_name = "AI gateway"
    # No litellm import here: it costs seconds and ~200 MB, so ai.gateway loads it on first use.
