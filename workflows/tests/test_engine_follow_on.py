"""Follow-on: a worker runs the next step of a quick chain itself, without the broker; slow
steps, and a diamond's other branch, still go through the queue."""

from contextlib import contextmanager

import pytest
from celery.signals import before_task_publish

from accounts.scoping import Actor
from workflows.engine import start_run
from workflows.engine.dispatch import Wakeup
from workflows.engine.follow_on import KeepOne
from workflows.engine.inline import InlineDispatcher
from workflows.models import RunStatus, StepRun
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
            indexing.append(body[0][0])

    before_task_publish.connect(record, weak=False)
    try:
        run = wait_for_run(start_run(actor=Actor(user), workflow=workflow, inputs={}), timeout=60)
    finally:
        before_task_publish.disconnect(record)

    assert run.status == RunStatus.SUCCEEDED, run.error
    assert indexing == [[run.pk]]
