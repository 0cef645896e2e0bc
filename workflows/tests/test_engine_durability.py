"""Durability: `kill -9` of a worker in the middle of a step loses nothing and duplicates
nothing. A new worker and the lease sweep finish the run with one document per step."""

import re
import signal
import uuid

import psycopg
import pytest
from django.db import connection

from accounts.scoping import Actor
from config.testing import start_worker_process, wait_until
from workflows.engine import start_run, sweep_leases
from workflows.models import Document, RunStatus, StepRun, StepStatus
from workflows.tests.engine_support import chain, make_workflow, wait_for_run

pytestmark = pytest.mark.integration

# Short leases so the sweep may act within the test: a 2 s lease, renewed every 0.5 s up to
# the step's timeout (1 s) + grace (0).
WORKER_ENV = {
    "ENGINE_LEASE_GRACE_SECONDS": "0",
    "ENGINE_LEASE_SECONDS": "2",
    "ENGINE_HEARTBEAT_SECONDS": "0.5",
}


def _raw_connection():
    db = connection.settings_dict
    return psycopg.connect(
        dbname=db["NAME"],
        user=db.get("USER") or "postgres",
        password=db.get("PASSWORD") or None,
        host=db.get("HOST") or "127.0.0.1",
        port=db.get("PORT") or 5432,
    )


def _blocked_document_writers() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks"
            " WHERE relation = 'workflows_document'::regclass AND NOT granted"
        )
        return cursor.fetchone()[0]


def _start_and_kill_mid_step(user, workflow, log, key: str, inputs: dict, **env):
    """Start a run with one worker (`env` added to its environment), and kill -9 that worker
    once step `key` is running."""
    first = start_worker_process(concurrency=1, log_path=log, **{**WORKER_ENV, **env})
    try:
        run = start_run(actor=Actor(user), workflow=workflow, inputs=inputs)
        wait_until(
            lambda: StepRun.objects.filter(run=run, key=key, status="running").exists(),
            timeout=60,
            message=f"{key} to be running",
        )
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
    return run


def _recover(run, tmp_path):
    """A new worker, and the beat job's work done here: once the lease expires, the sweep
    queues the killed step again; the run then finishes."""
    second = start_worker_process(concurrency=2, log_path=tmp_path / "second.log", **WORKER_ENV)
    try:
        wait_until(lambda: sweep_leases()["requeued"], timeout=30, message="the sweep")
        return wait_for_run(run, timeout=60)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)


@pytest.mark.django_db(transaction=True)
def test_kill_9_mid_step_then_a_new_worker_and_the_sweep_finish_the_run(user, workspace, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("holds a table lock from a second connection: PostgreSQL only")
    workflow = make_workflow(user, workspace, chain(3, timeout=1))
    # Another session locks the documents table against writes (SHARE: foreign-key checks
    # still pass): the worker will claim s1, run it, and
    # stop inside its write transaction (before COMMIT), where we kill it.
    blocker = _raw_connection()
    blocker.execute("LOCK TABLE workflows_document IN SHARE MODE")
    first = start_worker_process(concurrency=1, log_path=tmp_path / "first.log", **WORKER_ENV)
    try:
        run = start_run(actor=Actor(user), workflow=workflow, inputs={})
        wait_until(_blocked_document_writers, timeout=60, message="the worker mid-write")
        s1 = StepRun.objects.get(run=run, key="s1")
        assert s1.status == StepStatus.RUNNING and s1.attempts == 1
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
        blocker.rollback()
        blocker.close()
    # The dead worker's session ends without committing anything.
    wait_until(lambda: _blocked_document_writers() == 0, timeout=30)
    assert not Document.objects.filter(run=run).exists()
    assert StepRun.objects.get(pk=s1.pk).status == StepStatus.RUNNING

    run = _recover(run, tmp_path)

    assert run.status == RunStatus.SUCCEEDED, run.error
    steps = {s.key: s for s in StepRun.objects.filter(run=run)}
    assert steps["s1"].attempts == 2 and steps["s2"].attempts == 1
    assert all(s.status == StepStatus.SUCCEEDED for s in steps.values())
    documents = list(Document.objects.filter(run=run).values_list("step_key", flat=True))
    assert sorted(documents) == ["s1", "s2", "s3"]  # exactly one per step
    assert Document.objects.get(run=run, step_key="s3").content == "3 2 one x"


@pytest.mark.django_db(transaction=True)
def test_kill_9_during_a_slow_model_call(user, workspace, tmp_path):
    """The offline model's simulated latency keeps the step inside its model call."""
    slow = {
        "name": "Slow",
        "inputs": [{"name": "topic", "type": "string"}],
        "steps": [
            {
                "key": "draft",
                "kind": "generate",
                "prompt": "Draft about {{ inputs.topic }}",
                "parameters": {"latency_ms": 1500},
                "timeout": 2,
            },
            {"key": "final", "kind": "transform", "prompt": "{{ steps.draft.output }}"},
        ],
    }
    workflow = make_workflow(user, workspace, slow)
    inputs = {"topic": uuid.uuid4().hex}
    run = _start_and_kill_mid_step(user, workflow, tmp_path / "first.log", "draft", inputs)
    assert not Document.objects.filter(run=run).exists()

    run = _recover(run, tmp_path)

    assert run.status == RunStatus.SUCCEEDED, run.error
    draft = StepRun.objects.get(run=run, key="draft")
    assert draft.attempts == 2 and draft.tokens_in > 0
    assert sorted(Document.objects.filter(run=run).values_list("step_key", flat=True)) == [
        "draft",
        "final",
    ]


@pytest.mark.django_db(transaction=True)
def test_kill_9_during_a_step_that_followed_on(user, workspace, tmp_path):
    """A quick step's successor runs in the same task (follow-on), not from a message of its
    own: killed there, it is recovered the same way, and the quick step is not run again."""
    definition = {
        "name": "Quick then slow",
        "inputs": [],
        "steps": [
            {"key": "outline", "kind": "transform", "prompt": "# Outline"},
            {
                "key": "draft",
                "kind": "generate",
                "prompt": "Draft from {{ steps.outline.output }}",
                "parameters": {"latency_ms": 1500},
                "timeout": 2,
            },
        ],
    }
    workflow = make_workflow(user, workspace, definition)
    log = tmp_path / "first.log"
    # The follow-on window is wide here: a cold worker on a loaded machine may take longer than
    # the default 0.5 s over its first step, and then hands `draft` to the broker instead.
    run = _start_and_kill_mid_step(user, workflow, log, "draft", {}, ENGINE_FOLLOW_ON_SECONDS="30")
    received = re.findall(r"Task workflows\.execute_step\[\w+\] received", log.read_text())
    assert len(received) == 1  # one message, outline's: draft followed on

    run = _recover(run, tmp_path)

    assert run.status == RunStatus.SUCCEEDED, run.error
    steps = {s.key: s for s in StepRun.objects.filter(run=run)}
    assert (steps["outline"].attempts, steps["draft"].attempts) == (1, 2)
    assert sorted(Document.objects.filter(run=run).values_list("step_key", flat=True)) == [
        "draft",
        "outline",
    ]
