"""The AI gateway's verbs. Every model call in the project goes through `complete` (or `stream`).

Each call writes its own UsageRecord (cached or not, failed or not) and raises the classified
errors of ai.errors after recording. The record is written with the default connection: call
these outside your own `transaction.atomic` block if a rollback there must not lose it. A
caller that writes what a call produced in a transaction of its own (the workflow engine: a
step's document and status) passes `keep_usage=[]` and saves the records there with
`save_usage`, so that both are written or neither is.
"""

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django_ratelimit.core import get_usage

from accounts.models import Role, Workspace
from accounts.scoping import Actor, require_role
from ai import cache as response_cache
from ai import errors, gateway, providers, validation
from ai.models import Outcome, UsageRecord, WorkspaceProviderKey
from ai.providers import available_models, default_model  # noqa: F401 - part of the contract
from ai.results import CompletionResult
from ai.signals import usage_recorded
from ai.validation import check_schema, parse_structured  # noqa: F401 - for callers
from config.crypto import last4

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Request:
    workspace_id: int
    user_id: int | None
    route: providers.Route
    messages: list[dict]
    temperature: float | None
    max_tokens: int | None
    response_schema: dict | None
    timeout: float
    latency_ms: float
    cache_key: str | None


def complete(
    *,
    workspace,
    user=None,
    prompt: str | None = None,
    messages: list[dict] | None = None,
    system: str | None = None,
    model: str | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    response_schema: dict | None = None,
    use_cache: bool = True,
    timeout: float | None = None,
    latency_ms: int | None = None,
    provider: str | None = None,
    keep_usage: list[UsageRecord] | None = None,
) -> CompletionResult:
    """One completion: from the response cache when an identical request was answered within
    AI_CACHE_TTL (unless use_cache=False; the offline model is never cached), else from the
    model. Raises ai.errors. With `keep_usage` (a list), the call's UsageRecord is appended
    there unsaved instead of being written (results then carry `usage_id=None`)."""
    started = time.perf_counter()
    workspace_id, user_id = _ids(workspace, user)
    request = None
    try:
        request = _prepare(
            workspace_id=workspace_id,
            user_id=user_id,
            prompt=prompt,
            messages=messages,
            system=system,
            model=model,
            provider=provider,
            temperature=temperature,
            max_tokens=max_tokens,
            response_schema=response_schema,
            use_cache=use_cache,
            timeout=timeout,
            latency_ms=latency_ms,
        )
        hit = response_cache.get(request.cache_key)
        if hit is not None:
            return _finish(request, hit, started, cached=True, keep=keep_usage)
        reply = gateway.call(
            request.route,
            request.messages,
            temperature=request.temperature,
            max_tokens=request.max_tokens,
            response_schema=request.response_schema,
            timeout=request.timeout,
            latency_ms=request.latency_ms,
        )
        stored = {
            "content": reply.content,
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": reply.completion_tokens,
            "cost": reply.cost,
            "finish_reason": reply.finish_reason,
        }
        return _finish(request, stored, started, cached=False, keep=keep_usage)
    except errors.AIError as exc:
        _record_failure(
            exc, workspace_id, user_id, request, model, provider, started, keep=keep_usage
        )
        raise


def save_usage(records: list[UsageRecord]) -> None:
    """Write the records a `complete(..., keep_usage=records)` call kept, inside the caller's
    transaction."""
    if records:
        with connection.cursor() as cursor:
            cursor.execute(*usage_insert(records))
        usage_saved(records)


def usage_insert(records: list[UsageRecord]) -> tuple[str, list]:
    """The INSERT of `records` as (sql, params), for a caller that sends it with its own
    writes (the engine's step, in one round trip); it then calls `usage_saved`. A
    `bulk_create` without the ORM's statement building, which cost an engine step more CPU
    than any other of its writes."""
    fields = [field for field in UsageRecord._meta.concrete_fields if not field.primary_key]
    row = f"({', '.join(['%s'] * len(fields))})"
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    table = connection.ops.quote_name(UsageRecord._meta.db_table)
    values = [
        field.get_db_prep_save(field.pre_save(record, True), connection)
        for record in records
        for field in fields
    ]
    sql = f"INSERT INTO {table} ({columns}) VALUES {', '.join([row] * len(records))}"  # noqa: S608
    return sql, values


def usage_saved(records: list[UsageRecord]) -> None:
    """Tell the listeners (budget alerts) that `records` were written."""
    if records:
        usage_recorded.send(sender=UsageRecord, workspace_ids=[r.workspace_id for r in records])


# --- The API's verbs: who may call a model, and how often -----------------------------------


def authorize_generation(*, actor: Actor, workspace) -> None:
    """A model call for an API caller spends money: editors and above only, within the
    per-user and per-workspace rates (counted in the shared cache by django-ratelimit)."""
    require_role(actor, workspace, Role.EDITOR)
    prefix = settings.AI_CACHE_PREFIX
    limits = (
        (f"{prefix}.generate.user", f"user:{actor.user.pk}", settings.AI_GENERATE_RATE_USER),
        (f"{prefix}.generate.ws", f"ws:{workspace.pk}", settings.AI_GENERATE_RATE_WORKSPACE),
    )
    for group, value, rate in limits:
        # No request: the key is ours and the limit applies to every method.
        usage = get_usage(None, group=group, key=lambda g, r, v=value: v, rate=rate, increment=True)
        if usage is not None and usage["should_limit"]:
            raise errors.GenerationRateLimited(usage["time_left"])


def generate(
    *, actor: Actor, workspace, streaming: bool = False, **call
) -> "CompletionResult | CompletionStream":
    """A model call on behalf of an API caller (`authorize_generation`); `call` holds the
    other arguments of `complete` / `stream`."""
    authorize_generation(actor=actor, workspace=workspace)
    verb = stream if streaming else complete
    return verb(workspace=workspace, user=actor.user, **call)


def warm_up() -> None:
    """Load litellm and the tokenizer now instead of on the first call (~3-4 s once per
    process): done when a Celery worker starts (ai/apps.py), and by benchmarks."""
    gateway.count_text_tokens(providers.OFFLINE_DEFAULT, "warm up")


def stream(
    *,
    workspace,
    user=None,
    prompt: str | None = None,
    messages: list[dict] | None = None,
    system: str | None = None,
    model: str | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    response_schema: dict | None = None,
    use_cache: bool = True,
    timeout: float | None = None,
    latency_ms: int | None = None,
    provider: str | None = None,
) -> "CompletionStream":
    """Like `complete`, but the text arrives in pieces: iterate the returned CompletionStream,
    then read its `.result`. Bad input and provider errors that happen before the first piece
    (not configured, 429, auth...) raise here, so an API can still answer them with a 4xx/5xx."""
    started = time.perf_counter()
    workspace_id, user_id = _ids(workspace, user)
    request = None
    try:
        request = _prepare(
            workspace_id=workspace_id,
            user_id=user_id,
            prompt=prompt,
            messages=messages,
            system=system,
            model=model,
            provider=provider,
            temperature=temperature,
            max_tokens=max_tokens,
            response_schema=response_schema,
            use_cache=use_cache,
            timeout=timeout,
            latency_ms=latency_ms,
        )
        hit = response_cache.get(request.cache_key)
        if hit is not None:
            return CompletionStream(request, started, _replay(hit), hit)
        pieces, stats = gateway.stream(
            request.route,
            request.messages,
            temperature=request.temperature,
            max_tokens=request.max_tokens,
            response_schema=request.response_schema,
            timeout=request.timeout,
            latency_ms=request.latency_ms,
        )
        return CompletionStream(request, started, pieces, stats)
    except errors.AIError as exc:
        _record_failure(exc, workspace_id, user_id, request, model, provider, started)
        raise


class CompletionStream:
    """Iterate for the text pieces; afterwards `.result` holds the CompletionResult. Usage is
    recorded when the stream ends, fails, or is abandoned (closed early)."""

    def __init__(self, request: _Request, started: float, pieces: Iterator[str], stats: dict):
        self.request = request
        self.started = started
        self._pieces = pieces
        self._stats = stats  # filled by the provider stream when it ends (or a cached reply)
        self.cached = "content" in stats
        self.result: CompletionResult | None = None
        self.model = request.route.model
        self.provider = request.route.provider

    def __iter__(self) -> Iterator[str]:
        parts: list[str] = []
        done = False
        try:
            for piece in self._pieces:
                parts.append(piece)
                yield piece
            stored = {
                "content": "".join(parts),
                "prompt_tokens": self._stats.get("prompt_tokens", 0),
                "completion_tokens": self._stats.get("completion_tokens", 0),
                "cost": 0.0 if self.cached else self._stats.get("cost", 0.0),
                "finish_reason": self._stats.get("finish_reason", "stop"),
            }
            done = True
            self.result = _finish(
                self.request, stored, self.started, cached=self.cached, streamed=True
            )
        except errors.AIError as exc:
            done = True
            _record_failure(exc, 0, None, self.request, None, None, self.started, streamed=True)
            raise
        finally:
            if not done:  # the consumer went away (client disconnected) mid-stream
                _record(
                    self.request.workspace_id,
                    self.request.user_id,
                    self.model,
                    self.provider,
                    started=self.started,
                    streamed=True,
                    cached=self.cached,
                    error=("stream_abandoned", "The client stopped reading the stream."),
                )


def _replay(hit: dict) -> Iterator[str]:
    from ai import offline  # noqa: PLC0415

    yield from offline.chunks(hit["content"])


# --- steps ----------------------------------------------------------------------------------
def _ids(workspace, user) -> tuple[int, int | None]:
    if workspace is None:
        raise errors.InvalidInput("A workspace is required for a model call.", code="no_workspace")
    workspace_id = workspace if isinstance(workspace, int) else workspace.pk
    user_id = None
    if isinstance(user, int):
        user_id = user
    elif user is not None and getattr(user, "is_authenticated", False):
        user_id = user.pk
    return workspace_id, user_id


def _prepare(
    *,
    workspace_id,
    user_id,
    prompt,
    messages,
    system,
    model,
    provider,
    temperature,
    max_tokens,
    response_schema,
    use_cache,
    timeout,
    latency_ms,
) -> _Request:
    all_messages = validation.messages_for(prompt, messages, system)
    if temperature is not None:
        low, high = validation.TEMPERATURE_RANGE
        if not isinstance(temperature, int | float) or not low <= temperature <= high:
            raise errors.InvalidInput(
                f"temperature must be between {low} and {high}.",
                code="invalid_temperature",
                details={"temperature": temperature},
            )
    if max_tokens is not None and (
        not isinstance(max_tokens, int) or not 1 <= max_tokens <= settings.AI_MAX_OUTPUT_TOKENS
    ):
        raise errors.InvalidInput(
            f"max_tokens must be between 1 and {settings.AI_MAX_OUTPUT_TOKENS}.",
            code="invalid_max_tokens",
            details={"max_tokens": max_tokens},
        )
    if timeout is not None and timeout <= 0:
        raise errors.InvalidInput("timeout must be positive.", code="invalid_timeout")
    if latency_ms is not None and latency_ms < 0:
        raise errors.InvalidInput("latency_ms cannot be negative.", code="invalid_latency")
    if response_schema is not None:
        validation.check_schema(response_schema)
    route = providers.resolve(model, provider, workspace_id=workspace_id)
    key = None
    # The offline model writes a reply in a fraction of a millisecond and costs nothing:
    # looking it up and storing it would cost more than writing it again.
    if use_cache and settings.AI_CACHE_TTL > 0 and route.provider != "offline":
        key = response_cache.key_for(
            workspace_id, route.model, all_messages, temperature, max_tokens, response_schema
        )
    return _Request(
        workspace_id=workspace_id,
        user_id=user_id,
        route=route,
        messages=all_messages,
        temperature=temperature,
        max_tokens=max_tokens,
        response_schema=response_schema,
        timeout=float(timeout if timeout is not None else settings.AI_REQUEST_TIMEOUT),
        latency_ms=float(latency_ms if latency_ms is not None else settings.OFFLINE_LLM_LATENCY_MS),
        cache_key=key,
    )


def _finish(
    request: _Request,
    stored: dict,
    started: float,
    *,
    cached: bool,
    streamed: bool = False,
    keep: list[UsageRecord] | None = None,
) -> CompletionResult:
    data = None
    if request.response_schema is not None:
        data = validation.parse_structured(stored["content"], request.response_schema)
    if not cached:
        response_cache.put(request.cache_key, stored)
    cost = 0.0 if cached else float(stored.get("cost") or 0.0)
    latency = (time.perf_counter() - started) * 1000
    record = _record(
        request.workspace_id,
        request.user_id,
        request.route.model,
        request.route.provider,
        started=started,
        prompt_tokens=stored["prompt_tokens"],
        completion_tokens=stored["completion_tokens"],
        cost=cost,
        cached=cached,
        streamed=streamed,
        keep=keep,
    )
    return CompletionResult(
        content=stored["content"],
        model=request.route.model,
        provider=request.route.provider,
        prompt_tokens=stored["prompt_tokens"],
        completion_tokens=stored["completion_tokens"],
        total_tokens=stored["prompt_tokens"] + stored["completion_tokens"],
        cost=cost,
        latency_ms=latency,
        cached=cached,
        data=data,
        usage_id=record.pk,
        finish_reason=stored.get("finish_reason", "stop"),
    )


def _record_failure(
    exc, workspace_id, user_id, request, model, provider, started, streamed=False, keep=None
):
    if request is not None:
        workspace_id, user_id = request.workspace_id, request.user_id
        model, provider = request.route.model, request.route.provider
    elif model and "/" in model and not provider:
        provider = model.split("/", 1)[0]
    if not workspace_id:
        return  # no workspace, nobody to charge
    _record(
        workspace_id,
        user_id,
        (model or "")[:200],
        (provider or "")[:40],
        started=started,
        streamed=streamed,
        error=(exc.code, exc.message),
        keep=keep,
    )


def _record(
    workspace_id: int,
    user_id: int | None,
    model: str,
    provider: str,
    *,
    started: float,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    cost: float = 0.0,
    cached: bool = False,
    streamed: bool = False,
    error: tuple[str, str] | None = None,
    keep: list[UsageRecord] | None = None,
) -> UsageRecord:
    record = UsageRecord(
        workspace_id=workspace_id,
        user_id=user_id,
        model=model,
        provider=provider,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        total_tokens=prompt_tokens + completion_tokens,
        cost=round(cost, 8),
        latency_ms=round((time.perf_counter() - started) * 1000, 3),
        cached=cached,
        streamed=streamed,
        outcome=Outcome.ERROR if error else Outcome.SUCCESS,
        error_code=error[0][:60] if error else "",
        error_message=error[1][:500] if error else "",
    )
    if keep is None:
        record.save(force_insert=True)
        usage_recorded.send(sender=UsageRecord, workspace_ids=[workspace_id])
    else:
        keep.append(record)
    return record


# --- a workspace's own provider keys -------------------------------------------------------
@transaction.atomic
def set_provider_key(
    *, actor: Actor, workspace: Workspace, provider: str, api_key: str
) -> WorkspaceProviderKey:
    """Store (or replace) the workspace's key for `provider`, encrypted; admins and owners."""
    require_role(actor, workspace, Role.ADMIN)
    row, _ = WorkspaceProviderKey.objects.update_or_create(
        workspace=workspace,
        provider=provider,
        defaults={"api_key": api_key, "last4": last4(api_key), "updated_by": actor.user},
    )
    return row


@transaction.atomic
def remove_provider_key(*, actor: Actor, workspace: Workspace, provider: str) -> None:
    """Forget the workspace's key for `provider`: calls use the environment's key again."""
    require_role(actor, workspace, Role.ADMIN)
    WorkspaceProviderKey.objects.filter(workspace=workspace, provider=provider).delete()
