import json

import pytest

from accounts.models import Role
from ai.models import UsageRecord
from config.testing import assert_error

pytestmark = pytest.mark.django_db

GENERATE = "/api/v3/advanced/ai/generate"
ANALYZE = "/api/v3/advanced/ai/analyze"
PROMPT = "Write a product announcement for a quiet electric lawn mower."


def test_generate_answers_from_the_offline_model(alice_api, workspace):
    first = alice_api.post(GENERATE, {"prompt": PROMPT})
    second = alice_api.post(GENERATE, {"prompt": PROMPT})

    assert first.status_code == 200, first.content
    body = first.json()
    assert set(body) >= {"content", "model", "provider", "usage", "cost", "cached", "latency_ms"}
    assert (body["model"], body["provider"], body["cached"]) == ("offline/writer", "offline", False)
    assert body["usage"]["total_tokens"] == (
        body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
    )
    assert "electric lawn mower" in body["content"].lower()
    assert second.json()["cached"] is False  # the offline model is never cached
    assert second.json()["content"] == body["content"]

    usage = alice_api.get("/api/v3/ai/usage/").json()
    assert usage["count"] == 2
    assert {r["workspace"] for r in usage["results"]} == {workspace.pk}


def test_a_repeated_request_to_a_real_model_comes_from_the_cache(alice_api, local_llm):
    first = alice_api.post(GENERATE, {"prompt": PROMPT, "model": "local/tiny"})
    second = alice_api.post(GENERATE, {"prompt": PROMPT, "model": "local/tiny"})

    assert (first.json()["cached"], second.json()["cached"]) == (False, True)
    assert second.json()["content"] == first.json()["content"] == local_llm.reply
    assert len(local_llm.requests) == 1
    usage = alice_api.get("/api/v3/ai/usage/").json()
    assert [r["cached"] for r in usage["results"]] == [True, False]  # newest first


def test_generate_with_parameters_and_schema(alice_api):
    schema = {
        "type": "object",
        "properties": {"headline": {"type": "string"}, "score": {"type": "integer"}},
        "required": ["headline", "score"],
    }
    response = alice_api.post(
        GENERATE,
        {
            "prompt": PROMPT,
            "system": "Be brief.",
            "temperature": 0.4,
            "max_tokens": 64,
            "response_schema": schema,
            "use_cache": False,
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert isinstance(data["headline"], str) and isinstance(data["score"], int)
    assert json.loads(response.json()["content"]) == data


def test_generate_streams_server_sent_events(alice_api):
    response = alice_api.post(GENERATE, {"prompt": PROMPT, "stream": True}, format="json")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/event-stream")
    raw = b"".join(response.streaming_content).decode()
    events = [
        (block.split("\n")[0][len("event: ") :], json.loads(block.split("\n")[1][len("data: ") :]))
        for block in raw.strip().split("\n\n")
    ]
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "start" and kinds[-1] == "done"
    assert kinds.count("delta") > 5
    text = "".join(data["text"] for kind, data in events if kind == "delta")
    done = events[-1][1]
    assert text == done["content"]
    assert done["usage"]["completion_tokens"] > 0
    assert UsageRecord.objects.get(pk=done["usage_id"]).streamed is True


def test_streaming_honours_accept_event_stream_and_reports_errors_before_start(alice_api):
    response = alice_api.post(
        GENERATE,
        {"prompt": PROMPT, "stream": True, "model": "openai/gpt-4o-mini"},
        format="json",
        HTTP_ACCEPT="text/event-stream",
    )
    assert response.status_code == 400
    assert b"provider_not_configured" in response.content


def test_streaming_error_mid_stream_is_an_error_event(alice_api):
    response = alice_api.post(
        GENERATE,
        {"prompt": PROMPT, "stream": True, "latency_ms": 5000, "timeout": 0.2},
        format="json",
    )
    raw = b"".join(response.streaming_content).decode()
    assert "event: error" in raw and "provider_timeout" in raw
    assert UsageRecord.objects.get().error_code == "provider_timeout"


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"prompt": ""}, 400, "validation_error"),
        ({"prompt": "   "}, 400, "validation_error"),
        ({}, 400, "validation_error"),
        ({"prompt": "x" * 100_001}, 400, "prompt_too_long"),
        ({"prompt": "hi", "model": "gpt-4o"}, 400, "unknown_model"),
        ({"prompt": "hi", "model": "offline/nonesuch"}, 400, "unknown_model"),
        ({"prompt": "hi", "provider": "acme"}, 400, "unknown_provider"),
        ({"prompt": "hi", "model": "openai/gpt-4o-mini"}, 400, "provider_not_configured"),
        ({"prompt": "hi", "provider": "anthropic"}, 400, "provider_not_configured"),
        ({"prompt": "hi", "model": "local/llama3"}, 400, "provider_not_configured"),
        ({"prompt": "hi", "response_schema": {"type": 12}}, 400, "invalid_schema"),
        ({"prompt": "hi", "response_schema": "not a schema"}, 400, "invalid_schema"),
        ({"prompt": "hi", "temperature": 3}, 400, "validation_error"),
        ({"prompt": "hi", "temperature": -1}, 400, "validation_error"),
        ({"prompt": "hi", "temperature": "hot"}, 400, "validation_error"),
        ({"prompt": "hi", "max_tokens": 0}, 400, "validation_error"),
        ({"prompt": "hi", "max_tokens": 10**9}, 400, "invalid_max_tokens"),
        ({"prompt": "hi", "max_token": 5}, 400, "validation_error"),
        ({"prompt": ["a", "list"]}, 400, "validation_error"),
    ],
)
def test_bad_generate_input_is_a_clear_4xx(alice_api, payload, status, code):
    response = alice_api.post(GENERATE, payload, format="json")
    assert_error(response, status, code)


def test_malformed_json_and_oversize_body(alice_api):
    response = alice_api.post(GENERATE, "{not json", content_type="application/json")
    assert_error(response, 400, "parse_error")
    huge = json.dumps({"prompt": "x" * (3 * 1024 * 1024)})
    assert_error(alice_api.post(GENERATE, huge, content_type="application/json"), 413)


def test_generate_needs_authentication_and_the_editor_role(
    api, client_for, make_user, workspace, add_member
):
    assert_error(api.post(GENERATE, {"prompt": PROMPT}, format="json"), 401)

    viewer = make_user("victor")
    add_member(workspace, viewer, Role.VIEWER)
    response = client_for(viewer).post(
        GENERATE, {"prompt": PROMPT, "workspace": workspace.pk}, format="json"
    )
    assert_error(response, 403, "insufficient_role")

    editor = make_user("edith")
    add_member(workspace, editor, Role.EDITOR)
    response = client_for(editor).post(
        GENERATE, {"prompt": PROMPT, "workspace": workspace.pk}, format="json"
    )
    assert response.status_code == 200
    assert UsageRecord.objects.get().workspace_id == workspace.pk


def test_generate_in_another_workspace_is_refused(alice_api, other_workspace):
    response = alice_api.post(
        GENERATE, {"prompt": PROMPT, "workspace": other_workspace.pk}, format="json"
    )
    error = assert_error(response, 400, "validation_error")
    assert "workspace" in error["details"]
    assert not UsageRecord.objects.exists()


def test_generation_is_rate_limited_per_user(alice_api, settings):
    settings.AI_GENERATE_RATE_USER = "2/m"
    for _ in range(2):
        assert alice_api.post(GENERATE, {"prompt": PROMPT}, format="json").status_code == 200
    response = alice_api.post(GENERATE, {"prompt": PROMPT}, format="json")
    assert_error(response, 429, "rate_limited")
    assert 1 <= int(response["Retry-After"]) <= 60


def test_generation_is_rate_limited_per_workspace(
    client_for, make_user, workspace, add_member, settings
):
    settings.AI_GENERATE_RATE_WORKSPACE = "3/m"
    people = [make_user(f"writer{i}") for i in range(2)]
    for person in people:
        add_member(workspace, person, Role.EDITOR)
    payload = {"prompt": PROMPT, "workspace": workspace.pk}
    codes = [
        client_for(people[i % 2]).post(GENERATE, payload, format="json").status_code
        for i in range(4)
    ]
    assert codes == [200, 200, 200, 429]


def test_a_provider_failure_is_classified_never_a_500(alice_api, local_llm):
    local_llm.mode = "500"
    response = alice_api.post(GENERATE, {"prompt": "hi", "model": "local/tiny"}, format="json")
    assert_error(response, 502, "provider_unavailable")
    local_llm.mode = "429"
    response = alice_api.post(GENERATE, {"prompt": "hi", "model": "local/tiny"}, format="json")
    assert_error(response, 429, "provider_rate_limited")
    assert response["Retry-After"] == "1"  # the provider's own
    local_llm.mode = "hang"
    response = alice_api.post(
        GENERATE, {"prompt": "hi", "model": "local/tiny", "timeout": 0.3}, format="json"
    )
    assert_error(response, 504, "provider_timeout")
    outcomes = UsageRecord.objects.order_by("id").values_list("outcome", "error_code")
    assert list(outcomes) == [
        ("error", "provider_unavailable"),
        ("error", "provider_rate_limited"),
        ("error", "provider_timeout"),
    ]


def test_local_model_through_the_api(alice_api, local_llm):
    response = alice_api.post(GENERATE, {"prompt": "hi", "model": "local/tiny"}, format="json")
    assert response.status_code == 200
    assert response.json()["content"] == local_llm.reply


def test_models_lists_offline_always(alice_api):
    body = alice_api.get("/api/v3/ai/models").json()
    assert body["default_model"] == "offline/writer"
    assert [m["id"] for m in body["models"]] == ["offline/writer"]
    configured = {p["id"]: p["configured"] for p in body["providers"]}
    assert configured == {
        "offline": True,
        "openai": False,
        "anthropic": False,
        "gemini": False,
        "local": False,
    }


# --- analysis ---------------------------------------------------------------------------------
GLOWING = (
    "I absolutely love this blender. It is powerful, quiet and beautifully made. Smoothies "
    "come out silky in seconds, and cleaning takes no time at all. The customer service team "
    "was friendly and helpful when I had a question. Honestly the best kitchen purchase I have "
    "made in years; I recommend it to everyone!"
)
ANGRY = (
    "This blender is a complete disaster. It broke after two days and leaked sticky juice all "
    "over my counter. The motor screams like a jet engine and smells like burning plastic. "
    "Customer service ignored my emails for three weeks. Worst purchase I have ever made; avoid "
    "it at all costs, it is a scam."
)


def test_analysis_tells_a_glowing_review_from_an_angry_one(alice_api):
    good = alice_api.post(ANALYZE, {"text": GLOWING}, format="json")
    bad = alice_api.post(ANALYZE, {"text": ANGRY}, format="json")

    assert good.status_code == bad.status_code == 200
    good, bad = good.json(), bad.json()
    assert good["sentiment"]["label"] == "positive" and good["sentiment"]["score"] > 0.5
    assert bad["sentiment"]["label"] == "negative" and bad["sentiment"]["score"] < -0.5
    assert "blender" in good["keywords"] and "blender" in bad["keywords"]
    assert "complete disaster" in bad["keywords"]
    assert good["summary"].startswith("I absolutely love this blender.")
    assert set(good["readability"]) == {
        "flesch_reading_ease",
        "grade_level",
        "word_count",
        "sentence_count",
    }
    assert good["readability"]["sentence_count"] == 5
    assert good["readability"]["word_count"] == 53
    assert not UsageRecord.objects.exists()  # no model, no usage


def test_neutral_text_and_readability_order(alice_api):
    plain = alice_api.post(
        ANALYZE, {"text": "The cat sat on the mat. The dog ran to the park."}, format="json"
    ).json()
    dense = alice_api.post(
        ANALYZE,
        {
            "text": "Notwithstanding considerable institutional heterogeneity, "
            "interdisciplinary collaborations demonstrate substantially "
            "improved methodological reproducibility characteristics."
        },
        format="json",
    ).json()
    assert plain["sentiment"]["label"] == "neutral"
    assert plain["readability"]["flesch_reading_ease"] > dense["readability"]["flesch_reading_ease"]
    assert plain["readability"]["grade_level"] < dense["readability"]["grade_level"]


def test_analysis_with_a_model_records_usage(alice_api, workspace):
    response = alice_api.post(ANALYZE, {"text": GLOWING, "use_model": True}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["sentiment"]["label"] == "positive"
    assert body["summary"] and body["keywords"]
    assert body["model"] == "offline/writer"
    assert UsageRecord.objects.get().workspace_id == workspace.pk


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"text": ""}, "validation_error"),
        ({"text": "  \n "}, "validation_error"),
        ({}, "validation_error"),
        ({"text": "x " * 60_000}, "text_too_long"),
        ({"text": "fine", "use_model": "maybe"}, "validation_error"),
        ({"text": "fine", "mode": "fast"}, "validation_error"),
    ],
)
def test_bad_analyze_input_is_a_clear_4xx(alice_api, payload, code):
    assert_error(alice_api.post(ANALYZE, payload, format="json"), 400, code)


def test_analysis_with_a_model_needs_the_editor_role(client_for, make_user, workspace, add_member):
    viewer = make_user("victor")
    add_member(workspace, viewer, Role.VIEWER)
    client = client_for(viewer)
    payload = {"text": GLOWING, "workspace": workspace.pk}
    assert client.post(ANALYZE, payload, format="json").status_code == 200
    response = client.post(ANALYZE, {**payload, "use_model": True}, format="json")
    assert_error(response, 403, "insufficient_role")
