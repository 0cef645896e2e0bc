"""The task types the tasks app itself provides (other apps register theirs in their own
`task_types.py`): data_processing, diagnostics.*, maintenance.*."""

from tasks.task_types import data_processing, diagnostics, maintenance  # noqa: F401
