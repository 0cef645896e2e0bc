"""Every example in examples/ actually runs to the end with the offline model, in process.

Import/export round trips are tested elsewhere; this catches an example that parses but
cannot run (an unknown model, a template that renders nothing useful, a schema the offline
model cannot meet).
"""

from pathlib import Path

import pytest

from accounts.scoping import Actor
from workflows import authoring
from workflows.definition import load_text
from workflows.engine.inline import InlineDispatcher
from workflows.engine.runs import approve_step, start_run
from workflows.models import RunStatus, StepStatus

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))
SAMPLE_VALUES = {
    "string": "Aurora solar lamp",
    "text": "Ship v2 on Friday; Bob owns notes.",
    "integer": 3,
    "number": 2.5,
    "boolean": True,
}


def sample_inputs(definition: dict) -> dict:
    return {spec["name"]: SAMPLE_VALUES[spec["type"]] for spec in definition.get("inputs", [])}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs_to_the_end(path, user, workspace):
    actor = Actor(user)
    workflow = authoring.create_workflow(
        actor=actor, workspace=workspace, definition=load_text(path.read_text())
    )
    dispatcher = InlineDispatcher()
    run = start_run(
        actor=actor,
        workflow=workflow,
        inputs=sample_inputs(authoring.current_definition(workflow)),
        dispatcher=dispatcher,
    )
    dispatcher.drain()
    run.refresh_from_db()
    while run.status == RunStatus.WAITING:
        waiting = run.step_runs.get(status=StepStatus.WAITING)
        approve_step(
            actor=actor, run=run, key=waiting.key, comment="Looks good.", dispatcher=dispatcher
        )
        dispatcher.drain()
        run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, (run.error_code, run.error)
    made = run.step_runs.filter(status=StepStatus.SUCCEEDED, document__isnull=False).count()
    assert made >= 1
    assert run.documents.count() == made
