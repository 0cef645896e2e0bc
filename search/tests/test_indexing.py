"""The semantic index: chunks for long documents, the batched task on the `low` queue after a
run finishes (a real worker), the catch-up job and backfill command, and a provider's
embedding model through litellm (a local OpenAI-compatible server)."""

import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from django.core.management import call_command

from accounts.models import WorkspaceSettings
from accounts.scoping import Actor
from config.testing import free_port, wait_until
from search import chunking, embeddings, indexing, services, tasks
from search.models import DocumentChunk
from search.tests.batch import forget_batch
from tasks.registry import get_task_type
from workflows.engine.runs import start_run
from workflows.tests.engine_support import make_workflow

pytestmark = pytest.mark.django_db


def test_embeddings_are_unit_vectors_from_the_offline_model():
    vectors = embeddings.embed(["set up MFA", "quarterly revenue"])
    assert vectors.shape == (2, 256) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_long_documents_are_chunked_with_the_title_on_every_chunk():
    words = [f"w{i}" for i in range(1000)]
    parts = chunking.chunks("Handbook", " ".join(words))
    assert len(parts) > 1 and all(part.startswith("Handbook\n") for part in parts)
    assert "w999" in parts[-1]
    # Windows overlap, so a passage cut at a boundary is whole in one of them.
    first, second = parts[0].split()[1:], parts[1].split()[1:]
    assert set(first) & set(second)
    assert chunking.chunks("Only a title", "") == ["Only a title"]


def test_a_long_document_is_found_by_a_passage_deep_inside(
    alice_api, write_documents, user, workspace
):
    filler = " ".join(["The committee reviewed the agenda and the minutes."] * 80)
    deep = f"{filler} The boiler in the basement leaks water and needs a plumber. {filler}"
    made = write_documents(user, workspace, {"long": ("Facilities minutes", deep)})
    write_documents(user, workspace, {"other": ("Garden", "Plant tulips in autumn.")}, name="B")
    assert DocumentChunk.objects.filter(document=made["long"]).count() > 3
    body = alice_api.get(
        "/api/v3/documents/search", {"q": "heating system is dripping", "mode": "semantic"}
    ).json()
    top = body["results"][0]
    assert top["document"]["title"] == "Facilities minutes"
    assert "boiler" in top["excerpt"]


def test_indexing_twice_replaces_and_pending_finds_only_the_missing(
    write_documents, user, workspace
):
    made = write_documents(user, workspace, {"a": ("A", "alpha"), "b": ("B", "beta")}, index=False)
    ids = sorted(doc.pk for doc in made.values())
    assert services.pending_documents(workspace_ids=[workspace.id]) == ids
    assert services.index_documents(document_ids=ids) == 2
    assert services.index_documents(document_ids=ids) == 2
    assert DocumentChunk.objects.filter(document_id__in=ids).count() == 2
    assert services.pending_documents(workspace_ids=[workspace.id]) == []
    # Another embedding model for the workspace: everything is pending again.
    WorkspaceSettings.objects.update_or_create(
        workspace=workspace, defaults={"embedding_model": "minilm"}
    )
    assert services.pending_documents(workspace_ids=[workspace.id]) == ids


def test_backfill_command_and_the_catch_up_task_type(write_documents, user, workspace):
    made = write_documents(user, workspace, {"a": ("A", "alpha"), "b": ("B", "beta")}, index=False)
    out = io.StringIO()
    call_command("search_backfill", "--workspace", str(workspace.id), stdout=out)
    assert "2 documents indexed" in out.getvalue()
    assert DocumentChunk.objects.filter(document__in=made.values()).count() == 2
    out = io.StringIO()
    call_command("search_backfill", stdout=out)
    assert "0 documents indexed" in out.getvalue()
    call_command("search_backfill", "--all", "--workspace", str(workspace.id), stdout=out)
    assert "2 documents indexed" in out.getvalue()
    more = write_documents(user, workspace, {"c": ("C", "gamma")}, index=False, name="More")
    ttype = get_task_type("search.index_pending")
    assert ttype.priority == "low" and ttype.schedule
    assert ttype.fn(None, {}) == {"indexed": 1}
    assert DocumentChunk.objects.filter(document=more["c"]).exists()


@pytest.mark.integration
def test_a_finished_run_is_indexed_by_a_task_on_the_low_queue(
    celery_worker, user, workspace, settings
):
    settings.SEARCH_INDEX_ON_RUN_FINISH = True
    workflow = make_workflow(
        user,
        workspace,
        {"name": "Note", "steps": [{"key": "note", "kind": "transform", "prompt": "# Hello\nMFA"}]},
    )
    run = start_run(actor=Actor(user), workflow=workflow, inputs={})

    def indexed():
        return DocumentChunk.objects.filter(document__run=run).exists()

    wait_until(indexed, timeout=60, message="the run's document to be indexed")
    assert run.step_runs.get().status == "succeeded"


class FakeEmbeddings:
    """An OpenAI-compatible /v1/embeddings on 127.0.0.1: a bag of hashed words, 64 dims."""

    def __init__(self):
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"path": self.path, "body": body})
                texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
                data = [
                    {"object": "embedding", "index": i, "embedding": fake.vector(t)}
                    for i, t in enumerate(texts)
                ]
                payload = json.dumps(
                    {
                        "object": "list",
                        "data": data,
                        "model": body["model"],
                        "usage": {"prompt_tokens": 1, "total_tokens": 1},
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @staticmethod
    def vector(text: str) -> list[float]:
        out = [0.0] * 64
        for word in text.lower().split():
            out[sum(map(ord, word)) % 64] += 1.0
        return out


@pytest.fixture
def fake_embeddings(settings):
    fake = FakeEmbeddings()
    fake.thread.start()
    settings.LOCAL_LLM_BASE_URL = f"http://127.0.0.1:{fake.server.server_address[1]}/v1"
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def test_a_workspace_may_use_a_providers_embedding_model(
    alice_api, fake_embeddings, write_documents, user, workspace
):
    WorkspaceSettings.objects.create(workspace=workspace, embedding_model="local/embedder")
    made = write_documents(
        user, workspace, {"a": ("Boiler", "boiler leaks"), "b": ("Tulips", "plant tulips")}
    )
    chunk = DocumentChunk.objects.get(document=made["a"])
    assert chunk.model == "local/embedder" and chunk.dimensions == 64
    assert fake_embeddings.requests[0]["path"] == "/v1/embeddings"
    assert fake_embeddings.requests[0]["body"]["model"] == "embedder"
    body = alice_api.get("/api/v3/documents/search", {"q": "tulips", "mode": "semantic"}).json()
    assert body["results"][0]["document"]["title"] == "Tulips"


def test_runs_that_finish_together_are_indexed_by_one_message(
    write_documents, user, workspace, settings
):
    """Each finished run joins the waiting set; only the first of the period sends a message,
    and that message indexes every run waiting when it runs."""
    from celery.signals import before_task_publish

    settings.SEARCH_INDEX_ON_RUN_FINISH = True
    settings.SEARCH_INDEX_BATCH_SECONDS = 30  # still due while the test runs
    first = write_documents(user, workspace, {"a": ("Alpha", "alpha words")}, index=False)
    second = write_documents(user, workspace, {"b": ("Beta", "beta words")}, index=False, name="B")
    sent: list = []

    def record(sender=None, body=None, headers=None, **kwargs):
        if sender == "search.index_runs":
            sent.append((body[0], headers.get("eta")))

    forget_batch()
    before_task_publish.connect(record, weak=False)
    try:
        indexing.on_runs_finished(None, run_ids=[first["a"].run_id])
        indexing.on_runs_finished(None, run_ids=[second["b"].run_id])
    finally:
        before_task_publish.disconnect(record)
        from config.celery_app import app

        app.control.purge()  # the message is not for this test's (absent) worker
    try:
        assert len(sent) == 1 and list(sent[0][0]) == [] and sent[0][1]  # one, due later
        assert tasks.index_runs() == 2  # what that message does when it runs: both runs
        assert DocumentChunk.objects.filter(document__in=[first["a"], second["b"]]).count() == 2
        assert tasks.index_runs() == 0  # the set is empty now
    finally:
        forget_batch()
