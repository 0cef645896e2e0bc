"""Signals other apps may hear without the workflows app knowing them.

`runs_finished`: sent after the transaction that finished one or more runs commits, with
`run_ids` and the engine's `dispatcher` (InlineDispatcher when the run ran in-process). Search
indexes the runs' documents from it, off the step path.

`run_event`: sent after the transaction that changed a run commits, once per run.* event:
event="run.failed" | "run.succeeded" | "run.waiting" | ..., data=run_payload(run).
Notifications' rules hear it.
"""

from django.dispatch import Signal

runs_finished = Signal()
run_event = Signal()
