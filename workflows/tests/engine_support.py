"""Shared pieces of the engine tests: workflows to run, and ways to wait for them."""

from accounts.scoping import Actor
from config.testing import wait_until
from workflows import authoring
from workflows.engine.inline import InlineDispatcher
from workflows.models import RUN_FINISHED, Document, Run

DIAMOND = {
    "name": "Diamond",
    "inputs": [{"name": "topic", "type": "string"}],
    "steps": [
        {"key": "a", "kind": "transform", "prompt": "# Brief\nAbout {{ inputs.topic }}."},
        {"key": "b", "kind": "transform", "depends_on": ["a"], "prompt": "B<{{ steps.a.output }}>"},
        {"key": "c", "kind": "transform", "depends_on": ["a"], "prompt": "C<{{ steps.a.title }}>"},
        {
            "key": "d",
            "kind": "transform",
            "depends_on": ["b", "c"],
            "prompt": "D<{{ steps.b.output }}|{{ steps.c.output }}>",
        },
    ],
}


def chain(n: int, *, name: str = "Chain", **step_extra) -> dict:
    steps = [{"key": "s1", "kind": "transform", "prompt": "one {{ inputs.x }}", **step_extra}]
    for i in range(2, n + 1):
        steps.append(
            {"key": f"s{i}", "kind": "transform", "prompt": f"{i} {{{{ steps.s{i - 1}.output }}}}"}
        )
    inputs = [{"name": "x", "type": "string", "default": "x"}]
    return {"name": name, "inputs": inputs, "steps": steps}


def make_workflow(user, workspace, definition: dict):
    return authoring.create_workflow(actor=Actor(user), workspace=workspace, definition=definition)


def wait_for_run(run: Run, statuses=RUN_FINISHED, timeout: float = 30.0) -> Run:
    def finished():
        current = Run.objects.get(pk=run.pk)
        return current if current.status in statuses else None

    return wait_until(finished, timeout=timeout, message=f"run {run.pk} to reach {statuses}")


def documents_by_step(run: Run) -> dict[str, Document]:
    return {doc.step_key: doc for doc in Document.objects.filter(run=run)}


def parent_keys(document: Document) -> set[str]:
    return set(document.parents.values_list("step_key", flat=True))


APPROVAL = {
    "name": "Press kit",
    "inputs": [{"name": "product", "type": "string"}],
    "steps": [
        {"key": "draft", "kind": "transform", "prompt": "# Draft\nLaunch {{ inputs.product }}"},
        {"key": "review", "kind": "approval"},
        {"key": "final", "kind": "transform", "prompt": "Final: {{ steps.review.output }}"},
    ],
}


def run_inline(action):
    """Call `action(dispatcher)` with an inline dispatcher, then run every queued step in this
    thread (the CLI's --inline path; needs committed transactions, so transactional_db)."""
    dispatcher = InlineDispatcher()
    result = action(dispatcher)
    dispatcher.drain()
    return result
