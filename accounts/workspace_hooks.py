"""What other apps contribute to a workspace's lifecycle (accounts may not import them: every
app depends on accounts, never the reverse). An app registers in its AppConfig.ready():

- `register_before_delete(fn)`: `fn(workspace_id)` stops the workspace's work in progress
  (workflows cancels its running runs) before the workspace and everything in it is deleted.
- `register_exporter(fn)`: `fn(workspace_id)` yields `(path, text)` files for the workspace's
  export archive (workflows: workflows as YAML, runs, documents as Markdown, usage).
- `register_retention(fn)`: `fn(cutoffs, workspace_ids=None, exclude_ids=())` deletes what
  is older than its cutoff (`{"runs": datetime | None, "documents": ..., "usage": ...}`) in
  the workspaces named (None: all but `exclude_ids`) and returns counts.
"""

from collections.abc import Callable, Iterable
from datetime import datetime

BeforeDelete = Callable[[int], None]
Exporter = Callable[[int], Iterable[tuple[str, str]]]
Retention = Callable[..., dict[str, int]]

_before_delete: list[BeforeDelete] = []
_exporters: list[Exporter] = []
_retention: list[Retention] = []


def _add(registry: list, fn) -> None:
    if fn not in registry:
        registry.append(fn)


def register_before_delete(fn: BeforeDelete) -> None:
    _add(_before_delete, fn)


def register_exporter(fn: Exporter) -> None:
    _add(_exporters, fn)


def register_retention(fn: Retention) -> None:
    _add(_retention, fn)


def before_delete(workspace_id: int) -> None:
    for fn in _before_delete:
        fn(workspace_id)


def export_files(workspace_id: int) -> Iterable[tuple[str, str]]:
    for fn in _exporters:
        yield from fn(workspace_id)


def apply_retention(
    cutoffs: dict[str, datetime | None],
    *,
    workspace_ids: list[int] | None = None,
    exclude_ids: list[int] | tuple = (),
) -> dict[str, int]:
    counts: dict[str, int] = {}
    for fn in _retention:
        found = fn(cutoffs, workspace_ids=workspace_ids, exclude_ids=exclude_ids)
        for name, count in found.items():
            counts[name] = counts.get(name, 0) + count
    return counts
