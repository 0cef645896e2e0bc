"""The run's graph, as pure functions over a definition snapshot and step statuses.

No database here: the callers hold the run's lock and pass the statuses they read under it.
"""

from functools import lru_cache

from workflows.models import RunStatus, StepStatus
from workflows.templating import references

DONE_OK = frozenset({StepStatus.SUCCEEDED, StepStatus.SKIPPED})
FINISHED = frozenset(
    {StepStatus.SUCCEEDED, StepStatus.FAILED, StepStatus.SKIPPED, StepStatus.CANCELLED}
)
ACTIVE = frozenset({StepStatus.QUEUED, StepStatus.RUNNING})


def upstream_map(definition: dict) -> dict[str, tuple[str, ...]]:
    """key -> direct upstream keys, in definition order ("depends_on" omitted = the step
    before it), from a canonical definition dict as a Run snapshots it."""
    result: dict[str, tuple[str, ...]] = {}
    previous: str | None = None
    for step in definition["steps"]:
        deps = step.get("depends_on")
        if deps is None:
            deps = [previous] if previous else []
        result[step["key"]] = tuple(dict.fromkeys(deps))
        previous = step["key"]
    return result


def ancestors(upstream: dict[str, tuple[str, ...]], key: str) -> set[str]:
    seen: set[str] = set()
    stack = list(upstream[key])
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.add(current)
            stack.extend(upstream[current])
    return seen


def descendants(upstream: dict[str, tuple[str, ...]], key: str) -> set[str]:
    return {other for other in upstream if key in ancestors(upstream, other)}


def advance(
    upstream: dict[str, tuple[str, ...]], statuses: dict[str, str]
) -> tuple[list[str], list[str]]:
    """(pending steps to queue now, pending steps to skip now).

    A pending step is ready when every dependency succeeded or was skipped. One whose
    dependencies were *all* skipped is skipped too, and that propagates (to a fixpoint).
    """
    statuses = dict(statuses)
    ready: list[str] = []
    skipped: list[str] = []
    changed = True
    while changed:
        changed = False
        for key, deps in upstream.items():
            if statuses.get(key) != StepStatus.PENDING:
                continue
            states = [statuses[dep] for dep in deps]
            if any(state not in DONE_OK for state in states):
                continue
            if deps and all(state == StepStatus.SKIPPED for state in states):
                statuses[key] = StepStatus.SKIPPED
                skipped.append(key)
                changed = True
            else:
                statuses[key] = StepStatus.QUEUED
                ready.append(key)
    return ready, skipped


def run_status(statuses: dict[str, str]) -> str:
    """The status a (not cancelled) run has, given its steps' statuses."""
    values = set(statuses.values())
    if StepStatus.FAILED in values:
        return RunStatus.FAILED
    if values <= FINISHED:
        return RunStatus.SUCCEEDED
    if values & ACTIVE:
        return RunStatus.RUNNING
    if StepStatus.WAITING in values:
        return RunStatus.WAITING
    return RunStatus.RUNNING


@lru_cache(maxsize=1024)
def _referenced(source: str) -> frozenset[str]:
    return frozenset(references(source)[0]) if source else frozenset()


def context_keys(spec: dict, upstream: tuple[str, ...]) -> list[str]:
    """The steps whose documents a step reads: its direct upstream ones (its parents) and
    those its templates mention (always upstream: the definition checks that)."""
    keys = set(upstream)
    for attr in ("prompt", "query", "when"):
        keys |= _referenced(spec.get(attr, ""))
    return sorted(keys)
