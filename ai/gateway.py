"""The one place that talks to litellm: calls, streams, token counts, costs, and the mapping
of provider exceptions to ai.errors. Routing (which model, which provider) is ai.providers.

litellm is imported on first use (it costs ~3 s and ~200 MB), never at Django start-up.
"""

import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from ai import errors, offline
from ai.providers import OFFLINE_DEFAULT, Route  # noqa: F401 - OFFLINE_DEFAULT for callers

logger = logging.getLogger(__name__)

# --- litellm, loaded once per process ------------------------------------------------------
_litellm = None
_litellm_lock = threading.Lock()


def litellm():
    """The litellm module, imported and configured on first use (offline provider registered)."""
    global _litellm
    if _litellm is None:
        with _litellm_lock:
            if _litellm is None:
                # config.settings sets this too; never let litellm fetch its price map.
                os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
                import litellm as module  # noqa: PLC0415 - deliberately lazy

                module.suppress_debug_info = True
                module.telemetry = False
                from ai.litellm_offline import register  # noqa: PLC0415

                register(module)
                _litellm = module
    return _litellm


def count_message_tokens(model: str, messages: list[dict]) -> int:
    return int(litellm().token_counter(model=model, messages=messages))


def count_text_tokens(model: str, text: str) -> int:
    return len(litellm().encode(model=model, text=text)) if text else 0


def truncate_to_tokens(model: str, text: str, max_tokens: int) -> tuple[str, int, bool]:
    """(text cut to at most max_tokens tokens, its token count, whether it was cut)."""
    lm = litellm()
    tokens = list(lm.encode(model=model, text=text)) if text else []
    if len(tokens) <= max_tokens:
        return text, len(tokens), False
    return lm.decode(model=model, tokens=tokens[:max_tokens]), max_tokens, True


# --- calls ----------------------------------------------------------------------------------
@dataclass
class Reply:
    content: str
    prompt_tokens: int
    completion_tokens: int
    cost: float = 0.0
    finish_reason: str = "stop"


def call(
    route: Route,
    messages: list[dict],
    *,
    temperature: float | None,
    max_tokens: int | None,
    response_schema: dict | None,
    timeout: float,
    latency_ms: float,
) -> Reply:
    """One non-streaming completion; raises classified ai.errors."""
    if route.provider == "offline" and not settings.AI_OFFLINE_VIA_LITELLM:
        return offline_reply(
            route.model, messages, max_tokens, response_schema, latency_ms, timeout
        )
    kwargs = _litellm_kwargs(route, messages, temperature, max_tokens, response_schema, timeout)
    if route.provider == "offline":
        kwargs["latency_ms"] = latency_ms
    lm = litellm()
    try:
        response = lm.completion(**kwargs)
    except Exception as exc:
        raise classify(exc, route) from exc
    choice = response.choices[0]
    content = choice.message.content or ""
    usage = getattr(response, "usage", None)
    prompt_tokens = getattr(usage, "prompt_tokens", None)
    if prompt_tokens is None:
        prompt_tokens = count_message_tokens(route.litellm_model, messages)
    completion_tokens = getattr(usage, "completion_tokens", None)
    if completion_tokens is None:
        completion_tokens = count_text_tokens(route.litellm_model, content)
    return Reply(
        content=content,
        prompt_tokens=int(prompt_tokens),
        completion_tokens=int(completion_tokens),
        cost=cost_of(route, response),
        finish_reason=choice.finish_reason or "stop",
    )


def offline_reply(
    model: str,
    messages: list[dict],
    max_tokens: int | None,
    response_schema: dict | None,
    latency_ms: float,
    timeout: float | None,
) -> Reply:
    """The offline model, in-process: the same code the litellm custom provider runs."""
    try:
        offline.simulate_latency(latency_ms, timeout)
    except TimeoutError as exc:
        raise errors.ProviderTimeout(str(exc), details={"model": model}) from exc
    if response_schema is not None:
        import json  # noqa: PLC0415

        content = json.dumps(offline.write_json(messages, response_schema), ensure_ascii=False)
    else:
        content = offline.write(messages, model=model)
    finish = "stop"
    if max_tokens is not None:
        content, completion_tokens, cut = truncate_to_tokens(model, content, max_tokens)
        finish = "length" if cut else "stop"
    else:
        completion_tokens = count_text_tokens(model, content)
    return Reply(
        content=content,
        prompt_tokens=count_message_tokens(model, messages),
        completion_tokens=completion_tokens,
        finish_reason=finish,
    )


def stream(
    route: Route,
    messages: list[dict],
    *,
    temperature: float | None,
    max_tokens: int | None,
    response_schema: dict | None,
    timeout: float,
    latency_ms: float,
) -> tuple[Iterator[str], dict]:
    """Start a streaming completion. Returns (text pieces, stats) where stats gets
    prompt_tokens / completion_tokens / cost filled in once the pieces are exhausted.
    Errors before the first piece (a 429, a bad key...) raise here, classified."""
    stats: dict[str, Any] = {}
    if route.provider == "offline" and not settings.AI_OFFLINE_VIA_LITELLM:
        return _offline_stream(
            route, messages, max_tokens, response_schema, latency_ms, timeout, stats
        ), stats
    kwargs = _litellm_kwargs(route, messages, temperature, max_tokens, response_schema, timeout)
    kwargs["stream"] = True
    if route.provider == "offline":
        kwargs["latency_ms"] = latency_ms
    else:
        kwargs["stream_options"] = {"include_usage": True}
    lm = litellm()
    try:
        response = lm.completion(**kwargs)
    except Exception as exc:
        raise classify(exc, route) from exc
    return _litellm_stream(route, messages, response, stats), stats


def _offline_stream(route, messages, max_tokens, schema, latency_ms, timeout, stats):
    reply = offline_reply(route.model, messages, max_tokens, schema, 0, None)
    pieces = list(offline.chunks(reply.content))
    pause = latency_ms / 1000 / max(1, len(pieces))
    waited = 0.0
    for piece in pieces:
        if pause:
            if timeout is not None and waited + pause > timeout:
                raise errors.ProviderTimeout(
                    "The offline model's simulated latency exceeds the timeout.",
                    details={"model": route.model},
                )
            import time  # noqa: PLC0415

            time.sleep(pause)
            waited += pause
        yield piece
    stats.update(
        prompt_tokens=reply.prompt_tokens,
        completion_tokens=reply.completion_tokens,
        cost=0.0,
        finish_reason=reply.finish_reason,
    )


def _litellm_stream(route, messages, response, stats):
    parts: list[str] = []
    usage = None
    finish = "stop"
    try:
        for chunk in response:
            if getattr(chunk, "usage", None):
                usage = chunk.usage
            if not chunk.choices:
                continue
            choice = chunk.choices[0]
            finish = choice.finish_reason or finish
            text = getattr(choice.delta, "content", None)
            if text:
                parts.append(text)
                yield text
    except errors.AIError:
        raise
    except Exception as exc:
        raise classify(exc, route) from exc
    content = "".join(parts)
    prompt_tokens = getattr(usage, "prompt_tokens", None) or count_message_tokens(
        route.litellm_model, messages
    )
    completion_tokens = getattr(usage, "completion_tokens", None) or count_text_tokens(
        route.litellm_model, content
    )
    cost = 0.0
    if route.provider in ("openai", "anthropic", "gemini"):
        try:
            prompt_cost, completion_cost = litellm().cost_per_token(
                model=route.litellm_model,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
            )
            cost = float(prompt_cost + completion_cost)
        except Exception:  # an unpriced model: record zero rather than fail the call
            logger.info("no price for %s", route.model)
    stats.update(
        prompt_tokens=int(prompt_tokens),
        completion_tokens=int(completion_tokens),
        cost=cost,
        finish_reason=finish,
    )


def _litellm_kwargs(route, messages, temperature, max_tokens, response_schema, timeout) -> dict:
    kwargs: dict[str, Any] = {
        "model": route.litellm_model,
        "messages": messages,
        "timeout": timeout,
        "num_retries": 0,  # the caller (the workflow engine) decides about retries
        "max_retries": 0,
        **route.call_kwargs,
    }
    if temperature is not None:
        kwargs["temperature"] = temperature
    if max_tokens is not None:
        kwargs["max_tokens"] = max_tokens
    if response_schema is not None:
        kwargs["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "response", "schema": response_schema},
        }
    return kwargs


def cost_of(route: Route, response) -> float:
    if route.provider in ("offline", "local"):
        return 0.0
    try:
        return float(litellm().completion_cost(completion_response=response))
    except Exception:  # an unpriced model: record zero rather than fail the call
        logger.info("no price for %s", route.model)
        return 0.0


def classify(exc: Exception, route: Route) -> errors.AIError:
    """Map a litellm (or transport) exception to our transient/permanent errors."""
    if isinstance(exc, errors.AIError):
        return exc
    from litellm import exceptions as le  # noqa: PLC0415

    message = _short(exc)
    details = {"provider": route.provider, "model": route.model}
    status = getattr(exc, "status_code", None)
    if isinstance(exc, le.RateLimitError) or status == 429:
        return errors.RateLimited(
            f"{route.provider} rate limited the request.",
            details=details,
            retry_after=retry_after(exc),
        )
    if isinstance(exc, le.Timeout) or status in (408, 504):
        return errors.ProviderTimeout(f"{route.provider} did not answer in time.", details=details)
    if isinstance(exc, le.ContentPolicyViolationError) or _is_policy_refusal(exc):
        return errors.ContentPolicyViolation(message, details=details)
    if isinstance(exc, le.AuthenticationError | le.PermissionDeniedError) or status in (401, 403):
        return errors.ProviderAuthError(message, details=details)
    if isinstance(exc, le.NotFoundError) or status == 404:
        return errors.UnknownModel(
            f"{route.provider} does not know model '{route.name}'.", details=details
        )
    if isinstance(exc, le.BadRequestError | le.UnprocessableEntityError) or (
        status is not None and 400 <= status < 500
    ):
        return errors.BadRequest(message, details=details)
    logger.warning("provider error from %s: %r", route.model, exc)
    return errors.ProviderUnavailable(
        f"{route.provider} failed: {message}", details={**details, "status": status}
    )


POLICY_CODES = {"content_policy_violation", "content_filter", "safety"}


def _is_policy_refusal(exc: BaseException | None) -> bool:
    """litellm names a content-policy refusal only when the message says so; OpenAI-style
    servers also put it in the error body's `code`, which we check along the cause chain."""
    seen = 0
    while exc is not None and seen < 5:
        body = getattr(exc, "body", None)
        codes = {getattr(exc, "code", None)}
        if isinstance(body, dict):
            inner = body.get("error") if isinstance(body.get("error"), dict) else body
            codes |= {inner.get("code"), inner.get("type")}
        if codes & POLICY_CODES:
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


MAX_RETRY_AFTER_SECONDS = 3600.0


def retry_after(exc: BaseException | None) -> float | None:
    """The wait a provider's 429 asked for, in seconds: its `retry-after-ms` or `retry-after`
    header (seconds or an HTTP date), looked for along the exception's cause chain (litellm
    wraps the provider SDK's error). None when it did not say."""
    seen = 0
    while exc is not None and seen < 5:
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None) or getattr(exc, "headers", None) or {}
        try:
            if headers.get("retry-after-ms"):
                return _bounded(float(headers["retry-after-ms"]) / 1000)
            if headers.get("retry-after"):
                return _bounded(_seconds(headers["retry-after"]))
        except (TypeError, ValueError):
            return None
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def _seconds(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        from datetime import UTC, datetime  # noqa: PLC0415
        from email.utils import parsedate_to_datetime  # noqa: PLC0415

        return (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()


def _bounded(seconds: float) -> float:
    return round(min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS), 3)


def _short(exc: Exception, limit: int = 300) -> str:
    text = " ".join(str(getattr(exc, "message", None) or exc).split())
    return text[:limit]
