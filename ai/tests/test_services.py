import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ai import errors, offline, services
from ai.models import Outcome, UsageRecord

pytestmark = pytest.mark.django_db

PROMPT = (
    "Write a short blog post about solar panels for small farms.\n\n"
    "Solar panels cut diesel costs for irrigation pumps. Farmers in Kenya report payback "
    "within three years. Battery storage remains the expensive part of any small installation."
)


def test_offline_call_is_a_markdown_document_built_from_the_prompt(workspace, user):
    result = services.complete(workspace=workspace, user=user, prompt=PROMPT)

    assert result.model == "offline/writer" and result.provider == "offline"
    assert result.content.startswith("# ")
    assert "## " in result.content
    assert "offline" in result.content.lower()  # says plainly it was written offline
    assert "solar panels" in result.content.lower()
    assert "Farmers in Kenya report payback within three years." in result.content  # upstream
    assert result.prompt_tokens > 0 and result.completion_tokens > 50
    assert result.total_tokens == result.prompt_tokens + result.completion_tokens
    assert result.cost == 0 and result.cached is False
    row = UsageRecord.objects.get(pk=result.usage_id)
    assert (row.workspace_id, row.user_id, row.outcome) == (workspace.pk, user.pk, "success")
    assert (row.prompt_tokens, row.completion_tokens) == (
        result.prompt_tokens,
        result.completion_tokens,
    )


def test_offline_model_is_deterministic_and_prompt_dependent(workspace):
    one = services.complete(workspace=workspace, prompt=PROMPT, use_cache=False)
    two = services.complete(workspace=workspace, prompt=PROMPT, use_cache=False)
    other = services.complete(workspace=workspace, prompt="Explain tidal energy to children.")

    assert one.content == two.content
    assert not two.cached
    assert other.content != one.content
    assert "tidal energy" in other.content.lower()


def test_token_counts_are_litellms(workspace):
    from ai import gateway

    result = services.complete(workspace=workspace, prompt=PROMPT, use_cache=False)
    lm = gateway.litellm()
    messages = [{"role": "user", "content": PROMPT}]
    assert result.prompt_tokens == lm.token_counter(model="offline/writer", messages=messages)
    assert result.completion_tokens == len(lm.encode(model="offline/writer", text=result.content))


def test_max_tokens_cuts_the_reply(workspace):
    full = services.complete(workspace=workspace, prompt=PROMPT)
    short = services.complete(workspace=workspace, prompt=PROMPT, max_tokens=12)

    assert short.completion_tokens == 12
    assert short.finish_reason == "length"
    assert full.content.startswith(short.content.rstrip())
    assert len(short.content) < len(full.content)


LOCAL = "local/tiny"  # the cache is for real models: the local OpenAI-compatible server


def test_second_identical_call_is_a_cache_hit_and_both_are_recorded(local_llm, workspace, user):
    def call(temperature):
        return services.complete(
            workspace=workspace, user=user, prompt=PROMPT, model=LOCAL, temperature=temperature
        )

    first, second, changed = call(0.2), call(0.2), call(0.3)

    assert (first.cached, second.cached, changed.cached) == (False, True, False)
    assert second.content == first.content
    assert second.cost == 0
    assert len(local_llm.requests) == 2
    rows = UsageRecord.objects.filter(workspace=workspace).order_by("id")
    assert [r.cached for r in rows] == [False, True, False]
    assert all(r.outcome == Outcome.SUCCESS for r in rows)


def test_cache_is_per_workspace_and_can_be_skipped(local_llm, workspace, other_workspace):
    services.complete(workspace=workspace, prompt=PROMPT, model=LOCAL)

    elsewhere = services.complete(workspace=other_workspace, prompt=PROMPT, model=LOCAL)
    opted_out = services.complete(workspace=workspace, prompt=PROMPT, model=LOCAL, use_cache=False)

    assert elsewhere.cached is False
    assert opted_out.cached is False
    assert len(local_llm.requests) == 3
    assert UsageRecord.objects.filter(workspace=workspace, cached=True).count() == 0


def test_cache_off_when_ttl_is_zero(local_llm, workspace, settings):
    settings.AI_CACHE_TTL = 0
    services.complete(workspace=workspace, prompt=PROMPT, model=LOCAL)
    assert services.complete(workspace=workspace, prompt=PROMPT, model=LOCAL).cached is False
    assert len(local_llm.requests) == 2


def test_the_offline_model_is_never_cached(workspace):
    from ai import cache as response_cache

    cache = response_cache.backend()
    first = services.complete(workspace=workspace, prompt=PROMPT)
    second = services.complete(workspace=workspace, prompt=PROMPT)
    assert (first.cached, second.cached) == (False, False)
    assert second.content == first.content  # deterministic: nothing to save
    messages = [{"role": "user", "content": PROMPT}]
    key = response_cache.key_for(workspace.pk, first.model, messages, None, None, None)
    assert cache.get(key) is None


def test_offline_call_touches_the_database_once(workspace):
    services.complete(workspace=workspace, prompt="warm up")  # litellm loaded, caches warm
    with CaptureQueriesContext(connection) as queries:
        services.complete(workspace=workspace, prompt=PROMPT)
    assert len(queries) == 1  # the usage row; nothing else on the hot path


def test_schema_path_returns_valid_json(workspace):
    schema = {
        "type": "object",
        "properties": {
            "title": {"type": "string", "minLength": 3},
            "keywords": {"type": "array", "items": {"type": "string"}, "minItems": 2},
            "rating": {"type": "integer", "minimum": 1, "maximum": 5},
            "mood": {"enum": ["good", "bad"]},
            "published": {"type": "string", "format": "date"},
            "meta": {"$ref": "#/$defs/meta"},
        },
        "required": ["title", "keywords", "rating", "mood", "meta"],
        "additionalProperties": False,
        "$defs": {
            "meta": {
                "type": "object",
                "properties": {"ok": {"type": "boolean"}, "score": {"type": "number"}},
                "required": ["ok"],
            }
        },
    }
    result = services.complete(workspace=workspace, prompt=PROMPT, response_schema=schema)

    assert isinstance(result.data, dict)
    assert set(result.data) >= {"title", "keywords", "rating", "mood", "meta"}
    assert 1 <= result.data["rating"] <= 5
    assert result.data["mood"] in ("good", "bad")
    assert "solar panels" in result.data["keywords"]


def test_bad_schema_is_a_permanent_error_and_recorded(workspace):
    with pytest.raises(errors.InvalidSchema) as caught:
        services.complete(workspace=workspace, prompt=PROMPT, response_schema={"type": "banana"})
    assert caught.value.status_code == 400 and caught.value.transient is False
    row = UsageRecord.objects.get(workspace=workspace)
    assert (row.outcome, row.error_code) == ("error", "invalid_schema")


def test_reply_that_does_not_match_is_a_transient_schema_mismatch(workspace):
    # A schema the offline generator cannot satisfy (a pattern it does not guess).
    schema = {"type": "string", "pattern": "^[0-9]{3}-[A-Z]{4}$"}
    with pytest.raises(errors.SchemaMismatch) as caught:
        services.complete(workspace=workspace, prompt=PROMPT, response_schema=schema)
    assert caught.value.transient is True
    assert UsageRecord.objects.get(workspace=workspace).error_code == "schema_mismatch"


def test_a_simulated_latency_beyond_the_timeout_is_a_classified_timeout(workspace):
    with pytest.raises(errors.ProviderTimeout) as caught:
        services.complete(
            workspace=workspace, prompt=PROMPT, latency_ms=2000, timeout=0.05, use_cache=False
        )
    assert caught.value.transient is True
    failed = UsageRecord.objects.get(workspace=workspace, outcome="error")
    assert failed.error_code == "provider_timeout"


def test_default_latency_comes_from_settings(workspace, settings):
    # No latency_ms in the call: the setting's applies, and it is longer than the timeout.
    settings.OFFLINE_LLM_LATENCY_MS = 2000
    with pytest.raises(errors.ProviderTimeout):
        services.complete(workspace=workspace, prompt=PROMPT, timeout=0.05)
    settings.OFFLINE_LLM_LATENCY_MS = 0
    assert services.complete(workspace=workspace, prompt=PROMPT, timeout=0.05).content


@pytest.mark.parametrize(
    ("kwargs", "error", "code"),
    [
        ({"prompt": ""}, errors.InvalidInput, "empty_prompt"),
        ({"prompt": "   \n"}, errors.InvalidInput, "empty_prompt"),
        ({}, errors.InvalidInput, "empty_prompt"),
        ({"prompt": "x" * 200_001}, errors.InvalidInput, "prompt_too_long"),
        ({"prompt": "hi", "temperature": 2.5}, errors.InvalidInput, "invalid_temperature"),
        ({"prompt": "hi", "temperature": -0.1}, errors.InvalidInput, "invalid_temperature"),
        ({"prompt": "hi", "max_tokens": 0}, errors.InvalidInput, "invalid_max_tokens"),
        ({"prompt": "hi", "model": "gpt-4o"}, errors.UnknownModel, "unknown_model"),
        ({"prompt": "hi", "model": "offline/nope"}, errors.UnknownModel, "unknown_model"),
        ({"prompt": "hi", "model": "acme/x"}, errors.UnknownProvider, "unknown_provider"),
        ({"prompt": "hi", "provider": "acme"}, errors.UnknownProvider, "unknown_provider"),
        (
            {"prompt": "hi", "model": "openai/gpt-4o-mini"},
            errors.ProviderNotConfigured,
            "provider_not_configured",
        ),
        (
            {"prompt": "hi", "model": "local/llama3"},
            errors.ProviderNotConfigured,
            "provider_not_configured",
        ),
        (
            {"messages": [{"role": "robot", "content": "x"}]},
            errors.InvalidInput,
            "invalid_messages",
        ),
    ],
)
def test_bad_requests_are_permanent_4xx_errors_with_a_usage_row(workspace, kwargs, error, code):
    with pytest.raises(error) as caught:
        services.complete(workspace=workspace, **kwargs)
    assert caught.value.code == code
    assert 400 <= caught.value.status_code < 500
    assert caught.value.transient is False
    assert UsageRecord.objects.get(workspace=workspace).error_code == code


def test_messages_and_system_are_used(workspace):
    result = services.complete(
        workspace=workspace,
        system="You are terse.",
        messages=[
            {"role": "user", "content": "Draft notes on beekeeping."},
            {"role": "assistant", "content": "Bees need forage and clean water nearby."},
            {"role": "user", "content": "Now write about hive inspections."},
        ],
    )
    assert "hive inspections" in result.content.lower()
    assert "Bees need forage and clean water nearby." in result.content


def test_streaming_yields_the_same_text_and_records_usage(workspace, user):
    whole = services.complete(workspace=workspace, prompt=PROMPT, use_cache=False)
    stream = services.stream(workspace=workspace, user=user, prompt=PROMPT, use_cache=False)
    pieces = list(stream)

    assert len(pieces) > 10
    assert "".join(pieces) == whole.content
    assert stream.result is not None and stream.result.completion_tokens == whole.completion_tokens
    row = UsageRecord.objects.get(pk=stream.result.usage_id)
    assert row.streamed and row.outcome == "success"


def test_streaming_a_cached_reply_is_a_hit(local_llm, workspace):
    services.complete(workspace=workspace, prompt=PROMPT, model=LOCAL)
    stream = services.stream(workspace=workspace, prompt=PROMPT, model=LOCAL)
    text = "".join(stream)
    assert stream.result.cached is True
    assert text == stream.result.content == local_llm.reply
    assert len(local_llm.requests) == 1


def test_abandoned_stream_is_recorded(workspace):
    stream = services.stream(workspace=workspace, prompt=PROMPT, use_cache=False)
    iterator = iter(stream)
    next(iterator)
    iterator.close()  # the client went away
    row = UsageRecord.objects.get(workspace=workspace)
    assert row.error_code == "stream_abandoned"


def test_offline_through_litellm_gives_the_same_reply(workspace, settings):
    direct = services.complete(workspace=workspace, prompt=PROMPT, max_tokens=40, use_cache=False)
    settings.AI_OFFLINE_VIA_LITELLM = True
    via = services.complete(workspace=workspace, prompt=PROMPT, max_tokens=40, use_cache=False)
    streamed = services.stream(workspace=workspace, prompt=PROMPT, max_tokens=40, use_cache=False)

    assert via.content == direct.content
    assert (via.prompt_tokens, via.completion_tokens) == (
        direct.prompt_tokens,
        direct.completion_tokens,
    )
    assert "".join(streamed) == direct.content
    assert streamed.result.completion_tokens == direct.completion_tokens


def test_offline_through_litellm_classifies_its_timeout(workspace, settings):
    settings.AI_OFFLINE_VIA_LITELLM = True
    with pytest.raises(errors.ProviderTimeout):
        services.complete(workspace=workspace, prompt=PROMPT, latency_ms=1000, timeout=0.05)


def test_default_model_and_available_models(settings):
    assert services.default_model() == "offline/writer"
    ids = [m["id"] for m in services.available_models()]
    assert ids == ["offline/writer"]

    settings.OPENAI_API_KEY = "sk-test"
    settings.AI_DEFAULT_MODEL = "openai/gpt-4o-mini"
    assert services.default_model() == "openai/gpt-4o-mini"
    models = {m["id"]: m for m in services.available_models()}
    assert "offline/writer" in models and models["openai/gpt-4o-mini"]["default"]

    settings.OPENAI_API_KEY = ""  # configured default whose key is gone: back to offline
    assert services.default_model() == "offline/writer"


def test_offline_writer_is_plain_python():
    # The unit the custom provider wraps: no Django, no litellm.
    messages = [{"role": "user", "content": "Write about urban gardening."}]
    assert offline.write(messages) == offline.write(messages)
    assert offline.write(messages).startswith("# Urban gardening")


@pytest.mark.integration  # starts a Python process
def test_django_start_up_does_not_import_litellm():
    import subprocess
    import sys

    from config.testing import BASE_DIR, child_env

    code = (
        "import sys, django; django.setup(); "
        "from django.urls import resolve; resolve('/api/v3/ai/models'); "
        "import ai.services, ai.api, ai.analysis, ai.admin; "
        "print(sorted(m for m in ('litellm', 'yake', 'textstat') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == "[]"


def test_a_dead_cache_is_a_miss_not_a_failure(local_llm, workspace, settings, caplog):
    from config.testing import free_port

    settings.CACHES = {
        **settings.CACHES,
        "ai": {  # the AI reply cache's own alias (CACHE_URL)
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens
        },
    }
    first = services.complete(workspace=workspace, prompt=PROMPT, model=LOCAL)
    second = services.complete(workspace=workspace, prompt=PROMPT, model=LOCAL)
    assert (first.cached, second.cached) == (False, False)
    assert len(local_llm.requests) == 2
    assert UsageRecord.objects.filter(workspace=workspace, outcome="success").count() == 2
    # Said once, in one line, not once per get and set of every call.
    outages = [r for r in caplog.records if "AI response cache unavailable" in r.getMessage()]
    assert len(outages) == 1 and outages[0].exc_info is None
