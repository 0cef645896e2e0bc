"""The engine's only door to the AI gateway (`ai.services`, `ai.analysis`, `ai.selectors`).

Its errors are sorted here into the two kinds the engine acts on: `TransientStepError`
(retry with backoff) and `PermanentStepError` (fail at once). Model calls keep their usage
records in the step's `usage` list, unsaved, for `save_usage` in the transaction that records
the step, so that both are written or neither is.
"""

from datetime import datetime
from typing import Any

from ai import analysis, errors, selectors, services
from ai.results import CompletionResult


class StepError(Exception):
    transient = False

    def __init__(
        self, message: str, *, code: str = "step_failed", retry_after: float | None = None
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after  # the provider's own "retry after" seconds, if it said


class TransientStepError(StepError):
    transient = True


class PermanentStepError(StepError):
    transient = False


def _translate(exc: errors.AIError) -> StepError:
    code = exc.code or type(exc).__name__
    message = str(exc) or type(exc).__name__
    if exc.transient:
        return TransientStepError(message, code=code, retry_after=getattr(exc, "retry_after", None))
    return PermanentStepError(message, code=code)


def complete(
    *,
    workspace,
    user,
    prompt: str,
    model: str | None,
    parameters: dict,
    response_schema: dict | None,
    timeout: float | None,
    usage: list,
) -> CompletionResult:
    try:
        return services.complete(
            workspace=workspace,
            user=user,
            prompt=prompt,
            model=model or None,
            temperature=parameters.get("temperature"),
            max_tokens=parameters.get("max_tokens"),
            response_schema=response_schema,
            timeout=timeout,
            latency_ms=parameters.get("latency_ms"),
            keep_usage=usage,
        )
    except errors.AIError as exc:
        raise _translate(exc) from exc


def analyze(text: str, *, use_model: bool, workspace, user, usage: list) -> dict:
    try:
        return analysis.analyze_text(
            text, use_model=use_model, workspace=workspace, user=user, keep_usage=usage
        )
    except errors.AIError as exc:
        raise _translate(exc) from exc


def save_usage(records: list) -> None:
    services.save_usage(records)


def usage_writes(records: list) -> list[tuple[str, list]]:
    """The INSERT of `records` to send with the step's own writes (then `usage_saved`)."""
    return [services.usage_insert(records)] if records else []


def usage_saved(records: list) -> None:
    services.usage_saved(records)


def usage_totals(*, workspace_id: int, since: datetime) -> dict[str, Any]:
    """{"tokens", "cost" (Decimal), "calls"} the workspace has used since `since`."""
    return selectors.usage_totals(workspace_id=workspace_id, since=since)
