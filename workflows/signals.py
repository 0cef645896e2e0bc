"""Signals other apps may hear without the workflows app knowing them.

`runs_finished`: sent after the transaction that finished one or more runs commits, with
`run_ids` and the engine's `dispatcher` (InlineDispatcher when the run ran in-process). Search
indexes the runs' documents from it, off the step path.
"""

from django.dispatch import Signal

runs_finished = Signal()
