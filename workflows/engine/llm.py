"""The engine's only door to the AI gateway (`ai.services`, `ai.analysis`, `ai.selectors`).

Its errors are sorted here into the two kinds the engine acts on: `TransientStepError`
(retry with backoff) and `PermanentStepError` (fail at once). The `ai` app is imported
lazily, so the engine (and its transform steps) work wherever `ai` is not installed yet.
"""

from contextlib import contextmanager, nullcontext
from datetime import datetime
from decimal import Decimal
from typing import Any


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


def _ai():
    try:
        from ai import analysis, errors, selectors, services
    except ImportError as exc:
        raise PermanentStepError(
            "The AI gateway is not installed, so this step cannot call a model.",
            code="ai_unavailable",
        ) from exc
    return services, errors, analysis, selectors


def _translate(exc: Exception, errors) -> StepError:
    code = getattr(exc, "code", "") or type(exc).__name__
    message = str(exc) or type(exc).__name__
    if isinstance(exc, errors.AIError) and exc.transient:
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
) -> Any:
    """A CompletionResult(content, model, prompt_tokens, completion_tokens, cost, latency_ms,
    data, ...) from `ai.services.complete`."""
    services, errors, _, _ = _ai()
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
        )
    except errors.AIError as exc:
        raise _translate(exc, errors) from exc


def analyze(text: str, *, use_model: bool, workspace, user) -> dict:
    _, errors, analysis, _ = _ai()
    try:
        return analysis.analyze_text(text, use_model=use_model, workspace=workspace, user=user)
    except errors.AIError as exc:
        raise _translate(exc, errors) from exc


@contextmanager
def usage_kept():
    """The usage records of the model calls made inside, kept (unsaved) for `save_usage` in
    the transaction that records the step: a list (empty without `ai`)."""
    try:
        from ai import services
    except ImportError:
        deferring = nullcontext([])
    else:
        deferring = services.usage_deferred()
    with deferring as records:
        yield records


def save_usage(records: list) -> None:
    if records:
        from ai import services

        services.save_usage(records)


def usage_totals(*, workspace_id: int, since: datetime) -> dict:
    """{"tokens", "cost", "calls"} the workspace has used since `since`; zeros without `ai`."""
    try:
        from ai import selectors
    except ImportError:
        return {"tokens": 0, "cost": Decimal(0), "calls": 0}
    return selectors.usage_totals(workspace_id=workspace_id, since=since)
