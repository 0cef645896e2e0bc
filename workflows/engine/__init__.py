"""The execution engine (DESIGN.md "Execution engine"). The database is the truth; Celery
messages only wake workers up.

- runs.py: start, cancel, retry, re-run from a step, approve, reject (the verbs)
- steps.py: one StepRun: claim, run, record (the worker's side)
- state.py: transitions under the run's lock (queue successors, skip, settle the run)
- graph.py: readiness and skip propagation, as pure functions
- sweep.py: recovery of expired leases and lost messages
- dispatch.py: how a queued step reaches a worker (Celery); inline.py: in this process
- documents.py: the one way a document is written
- follow_on.py: a worker runs the next step of a quick chain itself, without the broker
- events.py: event payloads, sent on commit; llm.py: the door to the AI gateway
"""

from workflows.engine.runs import (
    approve_step,
    cancel_run,
    reject_step,
    rerun_from,
    retry_run,
    start_run,
)
from workflows.engine.steps import run_step
from workflows.engine.sweep import sweep_leases

__all__ = [
    "approve_step",
    "cancel_run",
    "reject_step",
    "rerun_from",
    "retry_run",
    "run_step",
    "start_run",
    "sweep_leases",
]
