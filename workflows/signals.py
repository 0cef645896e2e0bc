"""Signals other apps may hear without the workflows app knowing them.

`runs_finished`: sent after the transaction that finished one or more runs commits, with
`run_ids` and the engine's `dispatcher` (InlineDispatcher when the run ran in-process). Search
indexes the runs' documents from it, off the step path.

`run_event`: sent after the transaction that changed a run commits, once per run.* event:
event="run.failed" | "run.succeeded" | "run.waiting" | ..., data=run_payload(run).
Notifications' rules hear it.

`engine_events_committed`: sent after a transaction of the engine commits, with that
transaction's events, in order: kwargs `workspace_id` and `events` (a list of
(event_type, payload) pairs, the same payloads published over WebSocket). Analytics counts
its metrics and live figures from it.
"""

from django.dispatch import Signal

runs_finished = Signal()
run_event = Signal()
engine_events_committed = Signal()
