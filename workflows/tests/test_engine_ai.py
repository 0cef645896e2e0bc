"""Model steps with a real worker: the offline model, and a local OpenAI-compatible server
(`local/<name>` through LOCAL_LLM_BASE_URL) that answers as each test scripts it."""

import uuid

import pytest

from accounts.scoping import Actor
from ai.models import UsageRecord
from ai.tests.conftest import FakeOpenAI
from workflows.engine import start_run
from workflows.models import Budget, RunStatus, StepRun, StepStatus
from workflows.tests.engine_support import (
    documents_by_step,
    make_workflow,
    run_inline,
    wait_for_run,
)

pytestmark = pytest.mark.integration


class ScriptedOpenAI(FakeOpenAI):
    """Answers requests in the order of `script` (429, 500, 400, bad_json, ok...); the last
    entry repeats."""

    def __init__(self, script: list[str]):
        self.script = list(script)
        self.current = self.script[0]
        self.answering = False
        super().__init__()

    @property
    def mode(self) -> str:  # noqa: F811 - a property over the base class's attribute
        # The handler reads it once per request: the next answer of the script.
        if self.answering:
            return self.current
        self.current = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        return self.current

    @mode.setter
    def mode(self, value: str) -> None:  # FakeOpenAI's __init__ sets it; the script wins
        pass

    def completion(self, body) -> dict:
        self.answering = True  # the base class reads self.mode again: same answer
        try:
            return super().completion(body)
        finally:
            self.answering = False


@pytest.fixture
def scripted_llm(settings):
    servers = []

    def start(*script: str) -> ScriptedOpenAI:
        fake = ScriptedOpenAI(list(script))
        fake.thread.start()
        settings.LOCAL_LLM_BASE_URL = fake.base_url
        settings.LOCAL_LLM_API_KEY = "local-secret"
        settings.LOCAL_LLM_MODELS = ["tiny"]
        servers.append(fake)
        return fake

    yield start
    for fake in servers:
        fake.release.set()
        fake.server.shutdown()
        fake.server.server_close()


def local_workflow(user, workspace, *, retry=None, schema=None):
    write = {
        "key": "write",
        "kind": "generate",
        "model": "local/tiny",
        "prompt": "Write about {{ inputs.topic }}",
        "retry": retry or {"max_attempts": 3, "backoff_seconds": 0.1},
    }
    if schema:
        write["response_schema"] = schema
    return make_workflow(
        user,
        workspace,
        {
            "name": "Local",
            "inputs": [{"name": "topic", "type": "string"}],
            "steps": [
                write,
                {"key": "after", "kind": "transform", "prompt": "{{ steps.write.output }}"},
            ],
        },
    )


def unique_topic() -> dict:
    # The AI gateway caches identical requests; a fresh topic always reaches the server.
    return {"topic": uuid.uuid4().hex}


def test_offline_generate_and_analyze_record_usage_and_totals(celery_worker, user, workspace):
    workflow = make_workflow(
        user,
        workspace,
        {
            "name": "Notes",
            "inputs": [{"name": "notes", "type": "text"}],
            "steps": [
                {"key": "summary", "kind": "generate", "prompt": "Summarise: {{ inputs.notes }}"},
                {"key": "mood", "kind": "analyze"},
                {
                    "key": "actions",
                    "kind": "generate",
                    "depends_on": ["summary"],
                    "prompt": "Actions from {{ steps.summary.output }}",
                },
            ],
        },
    )
    notes = f"We agreed to ship the beta on Friday and celebrate. {uuid.uuid4().hex}"
    run = wait_for_run(start_run(actor=Actor(user), workflow=workflow, inputs={"notes": notes}))

    assert run.status == RunStatus.SUCCEEDED, run.error
    steps = {s.key: s for s in StepRun.objects.filter(run=run)}
    assert steps["summary"].model.startswith("offline/") and steps["summary"].tokens_in > 0
    assert steps["summary"].rendered_prompt == f"Summarise: {notes}"
    assert run.tokens_in == steps["summary"].tokens_in + steps["actions"].tokens_in
    assert run.tokens_out == steps["summary"].tokens_out + steps["actions"].tokens_out
    docs = documents_by_step(run)
    assert set(docs["mood"].analysis) >= {"sentiment", "keywords", "summary", "readability"}
    assert docs["mood"].content.startswith("# mood")
    assert "offline" in docs["summary"].content.lower()
    usage = UsageRecord.objects.filter(workspace=workspace, outcome="success")
    assert sorted(usage.values_list("prompt_tokens", flat=True)) == sorted(
        [steps["summary"].tokens_in, steps["actions"].tokens_in]
    )


@pytest.mark.django_db(transaction=True)
def test_a_steps_usage_is_written_in_the_transaction_of_its_document(user, workspace):
    """Both or neither: the model call's usage record and the step's document and status."""
    from django.db import connection

    workflow = make_workflow(
        user,
        workspace,
        {
            "name": "One",
            "steps": [
                {"key": "write", "kind": "generate", "prompt": "Write about {{ inputs.topic }}"},
            ],
            "inputs": [{"name": "topic", "type": "string"}],
        },
    )
    transaction_of = {}

    def watch(execute, sql, params, many, context):
        for table in ("ai_usagerecord", "workflows_document"):
            if sql.lstrip().upper().startswith(("INSERT", "WITH")) and f'"{table}"' in sql:
                blocks = connection.atomic_blocks
                transaction_of[table] = id(blocks[0]) if blocks else None
        return execute(sql, params, many, context)

    with connection.execute_wrapper(watch):
        run = run_inline(
            lambda inline: start_run(
                actor=Actor(user), workflow=workflow, inputs=unique_topic(), dispatcher=inline
            )
        )

    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert transaction_of["ai_usagerecord"] is not None
    assert transaction_of["ai_usagerecord"] == transaction_of["workflows_document"]
    assert UsageRecord.objects.filter(workspace=workspace).count() == 1


def test_a_transient_error_is_retried_with_backoff(celery_worker, scripted_llm, user, workspace):
    server = scripted_llm("429", "500", "ok")
    workflow = local_workflow(user, workspace)
    run = wait_for_run(start_run(actor=Actor(user), workflow=workflow, inputs=unique_topic()))

    assert run.status == RunStatus.SUCCEEDED, run.error
    write = StepRun.objects.get(run=run, key="write")
    assert write.attempts == 3 and len(server.requests) == 3
    assert write.error == "" and write.document.content == server.reply
    # Every call is a usage record, the failed ones written with their retries.
    outcomes = UsageRecord.objects.filter(workspace=workspace).order_by("id")
    assert [u.error_code or u.outcome for u in outcomes] == [
        "provider_rate_limited",
        "provider_unavailable",
        "success",
    ]
    assert StepRun.objects.get(run=run, key="after").status == StepStatus.SUCCEEDED


def test_a_providers_retry_after_is_waited_for(celery_worker, scripted_llm, user, workspace):
    server = scripted_llm("429", "ok")  # the 429 says Retry-After: 1; the step's backoff 0.1
    workflow = local_workflow(user, workspace)
    run = wait_for_run(start_run(actor=Actor(user), workflow=workflow, inputs=unique_topic()))

    assert run.status == RunStatus.SUCCEEDED, run.error
    first, second = server.requests
    assert second["at"] - first["at"] >= 1.0


def test_transient_errors_past_the_step_limit_fail_the_run(
    celery_worker, scripted_llm, user, workspace
):
    server = scripted_llm("500")
    workflow = local_workflow(user, workspace, retry={"max_attempts": 2, "backoff_seconds": 0.1})
    run = wait_for_run(start_run(actor=Actor(user), workflow=workflow, inputs=unique_topic()))

    assert run.status == RunStatus.FAILED and run.error_code == "provider_unavailable"
    write = StepRun.objects.get(run=run, key="write")
    assert write.status == StepStatus.FAILED and write.attempts == 2
    assert len(server.requests) == 2


def test_a_permanent_error_fails_at_once_and_skips_dependants(
    celery_worker, scripted_llm, user, workspace
):
    server = scripted_llm("400")
    workflow = local_workflow(user, workspace)
    run = wait_for_run(start_run(actor=Actor(user), workflow=workflow, inputs=unique_topic()))

    assert run.status == RunStatus.FAILED and run.error_code == "provider_bad_request"
    assert "Step 'write' failed" in run.error
    statuses = dict(StepRun.objects.filter(run=run).values_list("key", "status"))
    assert statuses == {"write": "failed", "after": "skipped"}
    assert StepRun.objects.get(run=run, key="write").attempts == 1
    assert len(server.requests) == 1
    assert not documents_by_step(run)


def test_a_reply_not_matching_the_schema_is_retried(celery_worker, scripted_llm, user, workspace):
    server = scripted_llm("bad_json", "ok")
    schema = {
        "type": "object",
        "properties": {"title": {"type": "string"}, "tags": {"type": "array"}},
        "required": ["title", "tags"],
    }
    workflow = local_workflow(user, workspace, schema=schema)
    run = wait_for_run(start_run(actor=Actor(user), workflow=workflow, inputs=unique_topic()))

    assert run.status == RunStatus.SUCCEEDED, run.error
    write = StepRun.objects.get(run=run, key="write")
    assert write.attempts == 2 and len(server.requests) == 2
    assert write.document.data == {"title": "Local title", "tags": ["a", "b"]}


def test_workspace_token_budget_stops_the_next_model_step(celery_worker, user, workspace):
    Budget.objects.create(workspace=workspace, monthly_token_limit=1)
    workflow = make_workflow(
        user,
        workspace,
        {
            "name": "Two calls",
            "steps": [
                {"key": "one", "kind": "generate", "prompt": f"first {uuid.uuid4().hex}"},
                {"key": "two", "kind": "generate", "prompt": "second {{ steps.one.output }}"},
            ],
        },
    )
    run = wait_for_run(start_run(actor=Actor(user), workflow=workflow, inputs={}))

    assert run.status == RunStatus.FAILED and run.error_code == "budget_exceeded"
    steps = {s.key: s for s in StepRun.objects.filter(run=run)}
    assert steps["one"].status == StepStatus.SUCCEEDED and steps["one"].tokens_in > 0
    assert steps["two"].status == StepStatus.FAILED and steps["two"].tokens_in == 0
