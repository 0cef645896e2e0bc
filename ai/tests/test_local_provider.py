"""The whole litellm path against a real OpenAI-compatible server on 127.0.0.1."""

import pytest

from ai import errors, services
from ai.models import UsageRecord

pytestmark = pytest.mark.django_db


def test_local_model_answers_through_litellm(local_llm, workspace, user):
    result = services.complete(
        workspace=workspace, user=user, prompt="Say hello", model="local/tiny", temperature=0.1
    )

    assert result.content == local_llm.reply
    assert (result.model, result.provider) == ("local/tiny", "local")
    assert (result.prompt_tokens, result.completion_tokens, result.total_tokens) == (11, 7, 18)
    assert result.cost == 0
    [request] = local_llm.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["auth"] == "Bearer local-secret"
    assert request["body"]["model"] == "tiny"
    assert request["body"]["messages"] == [{"role": "user", "content": "Say hello"}]
    assert request["body"]["temperature"] == 0.1
    row = UsageRecord.objects.get(pk=result.usage_id)
    assert (row.provider, row.model, row.total_tokens, row.outcome) == (
        "local",
        "local/tiny",
        18,
        "success",
    )


def test_provider_given_separately(local_llm, workspace):
    result = services.complete(workspace=workspace, prompt="hi", provider="local", model="tiny")
    assert result.model == "local/tiny"


def test_identical_local_call_is_served_from_cache(local_llm, workspace):
    services.complete(workspace=workspace, prompt="Say hello", model="local/tiny")
    again = services.complete(workspace=workspace, prompt="Say hello", model="local/tiny")

    assert again.cached is True and again.content == local_llm.reply
    assert len(local_llm.requests) == 1  # the second never reached the server
    assert list(UsageRecord.objects.values_list("cached", flat=True).order_by("id")) == [
        False,
        True,
    ]


@pytest.mark.parametrize(
    ("mode", "error", "code", "transient"),
    [
        ("429", errors.RateLimited, "provider_rate_limited", True),
        ("500", errors.ProviderUnavailable, "provider_unavailable", True),
        ("401", errors.ProviderAuthError, "provider_auth_failed", False),
        ("400", errors.BadRequest, "provider_bad_request", False),
        ("policy", errors.ContentPolicyViolation, "content_policy_violation", False),
    ],
)
def test_provider_errors_are_classified_and_recorded(
    local_llm, workspace, mode, error, code, transient
):
    local_llm.mode = mode
    with pytest.raises(error) as caught:
        services.complete(workspace=workspace, prompt="hi", model="local/tiny")

    assert caught.value.code == code
    assert caught.value.transient is transient
    assert len(local_llm.requests) == 1  # no hidden retries: the caller decides
    row = UsageRecord.objects.get(workspace=workspace)
    assert (row.outcome, row.error_code, row.provider) == ("error", code, "local")


def test_a_providers_retry_after_is_kept_with_its_429(local_llm, workspace):
    local_llm.mode = "429"  # the server says Retry-After: 1
    with pytest.raises(errors.RateLimited) as caught:
        services.complete(workspace=workspace, prompt="hi", model="local/tiny")

    assert caught.value.retry_after == 1.0
    assert caught.value.details["retry_after_seconds"] == 1.0


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),  # a date in the past
        ({"retry-after": "99999999"}, 3600.0),  # capped
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_headers_are_read_as_seconds(headers, seconds):
    import httpx

    from ai import gateway

    response = httpx.Response(429, headers=headers)
    try:
        raise RuntimeError("wrapped")
    except RuntimeError as inner:
        inner.response = response
        outer = ValueError("litellm's error")
        outer.__cause__ = inner
    assert gateway.retry_after(outer) == seconds


def test_a_hanging_provider_times_out_as_transient(local_llm, workspace):
    local_llm.mode = "hang"
    with pytest.raises(errors.ProviderTimeout) as caught:
        services.complete(workspace=workspace, prompt="hi", model="local/tiny", timeout=0.5)

    assert caught.value.transient is True and caught.value.status_code == 504
    row = UsageRecord.objects.get(workspace=workspace)
    assert row.error_code == "provider_timeout"
    assert row.latency_ms >= 500


def test_a_dead_server_is_provider_unavailable(local_llm, workspace, settings):
    from config.testing import free_port

    settings.LOCAL_LLM_BASE_URL = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens
    with pytest.raises(errors.ProviderUnavailable):
        services.complete(workspace=workspace, prompt="hi", model="local/tiny", timeout=5)
    assert UsageRecord.objects.get(workspace=workspace).error_code == "provider_unavailable"


def test_structured_output_from_a_provider(local_llm, workspace):
    schema = {
        "type": "object",
        "properties": {"title": {"type": "string"}, "tags": {"type": "array"}},
        "required": ["title", "tags"],
    }
    result = services.complete(
        workspace=workspace, prompt="json please", model="local/tiny", response_schema=schema
    )
    assert result.data == {"title": "Local title", "tags": ["a", "b"]}
    sent = local_llm.requests[0]["body"]["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["schema"] == schema


def test_reply_not_matching_the_schema_is_schema_mismatch(local_llm, workspace):
    local_llm.mode = "bad_json"
    schema = {"type": "object", "required": ["title"]}
    with pytest.raises(errors.SchemaMismatch):
        services.complete(
            workspace=workspace, prompt="json please", model="local/tiny", response_schema=schema
        )
    assert UsageRecord.objects.get(workspace=workspace).error_code == "schema_mismatch"
    # A mismatching reply is never cached: the retry asks the model again.
    local_llm.mode = "ok"
    retry = services.complete(
        workspace=workspace, prompt="json please", model="local/tiny", response_schema=schema
    )
    assert retry.cached is False and retry.data["title"] == "Local title"


def test_local_streaming(local_llm, workspace):
    stream = services.stream(workspace=workspace, prompt="Say hello", model="local/tiny")
    pieces = list(stream)

    assert "".join(pieces) == local_llm.reply
    assert len(pieces) > 3
    assert stream.result.completion_tokens == 7 and stream.result.prompt_tokens == 11
    assert local_llm.requests[0]["body"]["stream"] is True


def test_streaming_error_before_the_first_piece_raises_at_start(local_llm, workspace):
    local_llm.mode = "429"
    with pytest.raises(errors.RateLimited):
        services.stream(workspace=workspace, prompt="hi", model="local/tiny")
    assert UsageRecord.objects.get(workspace=workspace).error_code == "provider_rate_limited"


def test_not_configured_provider_makes_no_network_call(local_llm, workspace):
    for model in ("openai/gpt-4o-mini", "anthropic/claude-3-5-haiku-latest", "gemini/x"):
        with pytest.raises(errors.ProviderNotConfigured):
            services.complete(workspace=workspace, prompt="hi", model=model)
    assert local_llm.requests == []


def test_models_list_names_the_configured_local_models(local_llm):
    ids = [m["id"] for m in services.available_models()]
    assert ids == ["offline/writer", "local/tiny"]
