"""Follow-on: a worker runs the next step of a quick chain itself, without the broker; slow
steps, and a diamond's other branch, still go through the queue."""

from contextlib import contextmanager
from datetime import timedelta

import pytest
from celery.signals import before_task_publish
from django.db import connection
from django.utils import timezone

from accounts.scoping import Actor
from config.testing import wait_until
from search.models import DocumentChunk
from search.tests.batch import forget_batch
from workflows.engine import start_run, sweep_leases
from workflows.engine.dispatch import Wakeup
from workflows.engine.follow_on import KeepOne, run_with_follow_on
from workflows.engine.inline import InlineDispatcher
from workflows.engine.steps import run_step
from workflows.models import RunStatus, StepRun, StepStatus
from workflows.tests.engine_support import (
    DIAMOND,
    chain,
    documents_by_step,
    make_workflow,
    parent_keys,
    wait_for_run,
)


@contextmanager
def step_messages():
    """The step runs whose `workflows.execute_step` messages this process sends."""
    sent: list[int] = []

    def record(sender=None, body=None, **kwargs):
        if sender == "workflows.execute_step":
            sent.append(body[0][0])  # protocol 2: (args, kwargs, embed)

    before_task_publish.connect(record, weak=False)
    try:
        yield sent
    finally:
        before_task_publish.disconnect(record)


def step_ids(run) -> dict[str, int]:
    return dict(StepRun.objects.filter(run=run).values_list("key", "id"))


def steps_of(run) -> list:
    """What to print when an assertion on messages fails."""
    return list(StepRun.objects.filter(run=run).values_list("key", "id", "attempts", "error"))


@pytest.mark.integration
def test_a_quick_chain_runs_to_the_end_on_one_message(celery_worker, settings, user, workspace):
    settings.ENGINE_FOLLOW_ON_SECONDS = 30  # however slow the machine running the tests
    workflow = make_workflow(user, workspace, chain(4))
    with step_messages() as sent:
        run = wait_for_run(
            start_run(actor=Actor(user), workflow=workflow, inputs={"x": "go"}), timeout=60
        )

    assert run.status == RunStatus.SUCCEEDED, run.error
    assert documents_by_step(run)["s4"].content == "4 3 2 one go"
    assert sent == [step_ids(run)["s1"]], steps_of(run)  # s2..s4 followed on in the worker


@pytest.mark.integration
def test_with_follow_on_off_every_step_is_a_message(celery_worker, settings, user, workspace):
    settings.ENGINE_FOLLOW_ON_SECONDS = 0
    workflow = make_workflow(user, workspace, chain(3))
    with step_messages() as sent:
        run = wait_for_run(start_run(actor=Actor(user), workflow=workflow, inputs={}), timeout=60)

    assert run.status == RunStatus.SUCCEEDED, run.error
    ids = step_ids(run)
    assert sent == [ids["s1"], ids["s2"], ids["s3"]], steps_of(run)


@pytest.mark.integration
def test_a_step_slower_than_the_allowance_hands_its_successor_to_the_queue(
    celery_worker, settings, user, workspace
):
    settings.ENGINE_FOLLOW_ON_SECONDS = 0.2
    slow = chain(2)
    slow["steps"][0] = {
        "key": "s1",
        "kind": "generate",
        "model": "offline/writer",
        "parameters": {"latency_ms": 400},
        "prompt": "one {{ inputs.x }}",
    }
    workflow = make_workflow(user, workspace, slow)
    with step_messages() as sent:
        run = wait_for_run(start_run(actor=Actor(user), workflow=workflow, inputs={}), timeout=60)

    assert run.status == RunStatus.SUCCEEDED, run.error
    ids = step_ids(run)
    assert sent == [ids["s1"], ids["s2"]], steps_of(run)


@pytest.mark.integration
def test_a_diamonds_second_branch_still_goes_to_the_queue(celery_worker, settings, user, workspace):
    settings.ENGINE_FOLLOW_ON_SECONDS = 30
    workflow = make_workflow(user, workspace, DIAMOND)
    with step_messages() as sent:
        run = wait_for_run(
            start_run(actor=Actor(user), workflow=workflow, inputs={"topic": "k"}), timeout=60
        )

    assert run.status == RunStatus.SUCCEEDED, run.error
    ids = step_ids(run)
    # a is sent; of b and c one follows on and the other is a message of its own; d follows on
    # in whichever worker finishes the second of them.
    assert sent[0] == ids["a"] and len(sent) == 2, steps_of(run)
    assert sent[1] in (ids["b"], ids["c"])
    docs = documents_by_step(run)
    assert parent_keys(docs["d"]) == {"b", "c"}


def test_keep_one_keeps_the_first_wakeup_due_now_until_the_deadline():
    inner = InlineDispatcher()
    delayed = Wakeup(1, "t1", "default", countdown=5)
    now_a, now_b = Wakeup(2, "t2", "default"), Wakeup(3, "t3", "default")
    keeper = KeepOne(inner, deadline=float("inf"))

    keeper.send([delayed, now_a, now_b])
    keeper.send([Wakeup(4, "t4", "default")])  # one is kept, never more

    assert keeper.kept == now_a
    assert sorted(wakeup.step_run_id for wakeup in inner.pending()) == [1, 3, 4]

    late = KeepOne(InlineDispatcher(), deadline=0.0)  # past its time: keeps nothing
    late.send([now_a])
    assert late.kept is None and late.inner.pending() == [now_a]


@pytest.mark.integration
def test_a_followed_on_run_queues_its_indexing(celery_worker, settings, user, workspace):
    """A worker's follow-on is not an in-process run: the finished run's search indexing goes
    to the queue, not into the step's worker before its next message."""
    settings.ENGINE_FOLLOW_ON_SECONDS = 30
    settings.SEARCH_INDEX_ON_RUN_FINISH = True
    workflow = make_workflow(user, workspace, chain(2))
    indexing: list = []

    def record(sender=None, body=None, **kwargs):
        if sender == "search.index_runs":
            indexing.append(list(body[0]))  # no ids: the message takes the waiting runs

    forget_batch()

    before_task_publish.connect(record, weak=False)
    try:
        run = wait_for_run(start_run(actor=Actor(user), workflow=workflow, inputs={}), timeout=60)
    finally:
        before_task_publish.disconnect(record)

    assert run.status == RunStatus.SUCCEEDED, run.error
    assert indexing == [[]]
    wait_until(
        lambda: DocumentChunk.objects.filter(document__run=run).count() == 2,
        timeout=60,
        message="the run's documents to be indexed",
    )


@contextmanager
def claims():
    """The step claims (the conditional UPDATE from queued) this process sends."""
    seen: list[str] = []

    def count(execute, sql, params, many, context):
        if '"attempts" = "attempts" + 1' in sql:
            seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        yield seen


def start_inline(user, workflow, **inputs) -> tuple:
    """A run started with its wake-ups kept in memory: (run, its first wake-up)."""
    inline = InlineDispatcher()
    run = start_run(actor=Actor(user), workflow=workflow, inputs=inputs, dispatcher=inline)
    [wakeup] = inline.pending()
    return run, wakeup


@pytest.mark.django_db(transaction=True)
def test_a_followed_on_successor_is_claimed_in_its_predecessors_transaction(
    settings, user, workspace
):
    settings.ENGINE_FOLLOW_ON_SECONDS = 30
    run, wakeup = start_inline(user, make_workflow(user, workspace, chain(3)), x="go")
    inner = InlineDispatcher()

    with claims() as claimed:
        run_with_follow_on(wakeup.step_run_id, wakeup.lease_seconds, dispatcher=inner)

    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert documents_by_step(run)["s3"].content == "3 2 one go"
    assert len(claimed) == 1 and inner.pending() == []  # only s1's own claim; nothing sent
    rows = {row.key: row for row in StepRun.objects.filter(run=run)}
    assert [rows[k].attempts for k in ("s1", "s2", "s3")] == [1, 1, 1]
    # Claimed when s1's outcome was written, in the same transaction.
    assert rows["s2"].started_at == rows["s1"].finished_at
    assert rows["s3"].started_at == rows["s2"].finished_at


@pytest.mark.django_db(transaction=True)
def test_a_claimed_successor_whose_worker_died_is_requeued_by_the_lease_sweep(
    settings, user, workspace
):
    settings.ENGINE_FOLLOW_ON_SECONDS = 30
    run, wakeup = start_inline(user, make_workflow(user, workspace, chain(2)), x="go")
    keeper = KeepOne(InlineDispatcher(), deadline=float("inf"))

    run_step(wakeup.step_run_id, wakeup.lease_seconds, dispatcher=keeper)
    # The worker dies here, with s2 claimed for it and not run.

    s2 = StepRun.objects.get(run=run, key="s2")
    assert keeper.handed.step_run.pk == s2.pk and keeper.inner.pending() == []
    assert s2.status == StepStatus.RUNNING and s2.lease_expires_at > timezone.now()
    StepRun.objects.filter(pk=s2.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    inline = InlineDispatcher()
    assert sweep_leases(dispatcher=inline)["requeued"] == 1
    inline.drain()

    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert documents_by_step(run)["s2"].content == "2 one go"
    assert StepRun.objects.get(pk=s2.pk).attempts == 2


@pytest.mark.django_db(transaction=True)
def test_a_successor_whose_context_is_not_at_hand_is_claimed_after_the_commit(
    settings, user, workspace
):
    settings.ENGINE_FOLLOW_ON_SECONDS = 30
    run, wakeup = start_inline(user, make_workflow(user, workspace, DIAMOND), topic="k")
    inner = InlineDispatcher()
    run_with_follow_on(wakeup.step_run_id, wakeup.lease_seconds, dispatcher=inner)
    [other_branch] = inner.pending()  # a, then one branch in this worker; the other is sent

    with claims() as claimed:
        run_with_follow_on(other_branch.step_run_id, dispatcher=InlineDispatcher())

    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    # The join reads both branches' documents; the second branch had only its own at hand,
    # so d was kept and claimed after the commit: the branch's claim and d's.
    assert len(claimed) == 2
    assert parent_keys(documents_by_step(run)["d"]) == {"b", "c"}
