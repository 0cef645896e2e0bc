"""The engine with a real Celery worker: documents, lineage, `when`, skip propagation."""

import pytest

from accounts.scoping import Actor
from workflows.engine import run_step, start_run
from workflows.models import RunStatus, StepRun, StepStatus
from workflows.tests.engine_support import (
    DIAMOND,
    documents_by_step,
    make_workflow,
    parent_keys,
    wait_for_run,
)

pytestmark = pytest.mark.integration


def test_diamond_makes_one_document_per_step_with_its_parents(celery_worker, user, workspace):
    workflow = make_workflow(user, workspace, DIAMOND)
    run = start_run(actor=Actor(user), workflow=workflow, inputs={"topic": "kites"})
    assert run.status == RunStatus.QUEUED

    run = wait_for_run(run)

    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.started_at and run.finished_at
    docs = documents_by_step(run)
    assert set(docs) == {"a", "b", "c", "d"}
    assert docs["a"].title == "Brief" and docs["a"].content == "# Brief\nAbout kites."
    assert docs["b"].content == "B<# Brief\nAbout kites.>"
    assert docs["c"].content == "C<Brief>"
    assert docs["d"].content == f"D<{docs['b'].content}|{docs['c'].content}>"
    assert parent_keys(docs["a"]) == set()
    assert parent_keys(docs["b"]) == parent_keys(docs["c"]) == {"a"}
    assert parent_keys(docs["d"]) == {"b", "c"}
    steps = {s.key: s for s in StepRun.objects.filter(run=run)}
    assert all(s.status == StepStatus.SUCCEEDED and s.attempts == 1 for s in steps.values())
    assert all(steps[k].document_id == docs[k].pk for k in docs)
    assert docs["a"].word_count == 4


WHEN = {
    "name": "Conditional",
    "inputs": [{"name": "long", "type": "boolean", "default": False}],
    "steps": [
        {"key": "intro", "kind": "transform", "prompt": "intro"},
        {
            "key": "detail",
            "kind": "transform",
            "when": "{% if inputs.long %}yes{% endif %}",
            "prompt": "detail of {{ steps.intro.output }}",
        },
        {"key": "appendix", "kind": "transform", "prompt": "appendix {{ steps.detail.output }}"},
        {
            "key": "wrap",
            "kind": "transform",
            "depends_on": ["intro", "appendix"],
            "prompt": "wrap {{ steps.intro.output }}[{{ steps.appendix.output }}]",
        },
    ],
}


def test_when_skips_and_skips_propagate_to_steps_depending_only_on_skipped(
    celery_worker, user, workspace
):
    workflow = make_workflow(user, workspace, WHEN)
    run = wait_for_run(start_run(actor=Actor(user), workflow=workflow, inputs={}))

    assert run.status == RunStatus.SUCCEEDED, run.error
    statuses = dict(StepRun.objects.filter(run=run).values_list("key", "status"))
    # detail's `when` is empty -> skipped; appendix depends only on it -> skipped; wrap also
    # depends on intro, which succeeded -> it runs, and the skipped step renders empty.
    assert statuses == {
        "intro": "succeeded",
        "detail": "skipped",
        "appendix": "skipped",
        "wrap": "succeeded",
    }
    docs = documents_by_step(run)
    assert set(docs) == {"intro", "wrap"}
    assert docs["wrap"].content == "wrap intro[]"
    assert parent_keys(docs["wrap"]) == {"intro"}

    run = wait_for_run(start_run(actor=Actor(user), workflow=workflow, inputs={"long": True}))
    assert set(documents_by_step(run)) == {"intro", "detail", "appendix", "wrap"}


def test_parallel_diamonds_queue_each_join_exactly_once(celery_worker, user, workspace):
    """Both branches of a diamond finish at nearly the same time on two worker threads; the
    run's lock makes exactly one of them queue the join step, in every run."""
    workflow = make_workflow(user, workspace, DIAMOND)
    runs = [
        start_run(actor=Actor(user), workflow=workflow, inputs={"topic": f"t{i}"})
        for i in range(12)
    ]
    for run in runs:
        run = wait_for_run(run, timeout=60)
        assert run.status == RunStatus.SUCCEEDED, run.error
        docs = documents_by_step(run)
        assert set(docs) == {"a", "b", "c", "d"}
        assert parent_keys(docs["d"]) == {"b", "c"}
        assert StepRun.objects.get(run=run, key="d").attempts == 1


@pytest.mark.django_db(transaction=True)
def test_a_message_delivered_twice_runs_the_step_once(user, workspace):
    from workflows.engine.inline import InlineDispatcher
    from workflows.models import Document
    from workflows.tests.engine_support import chain

    workflow = make_workflow(user, workspace, chain(2))
    inline = InlineDispatcher()  # keeps the wake-ups in memory; deliver by hand
    run = start_run(actor=Actor(user), workflow=workflow, inputs={}, dispatcher=inline)
    first = StepRun.objects.get(run=run, key="s1")
    assert run_step(first.pk, 120, dispatcher=inline) == StepStatus.SUCCEEDED
    assert run_step(first.pk, 120, dispatcher=inline) == "not-queued"  # the redelivery
    assert run_step(first.pk, dispatcher=inline) == "not-queued"  # an old message, no lease
    assert Document.objects.filter(run=run, step_key="s1").count() == 1
    assert StepRun.objects.get(pk=first.pk).attempts == 1
