"""Providers and model routing: which `provider/name` ids exist, which are configured (keys
come from the workspace's own provider keys first, then the environment), the default model,
and the Route a call takes. No litellm here."""

import logging
from dataclasses import dataclass, field

from django.conf import settings

from ai import errors, offline, selectors

logger = logging.getLogger(__name__)

PROVIDERS = ("offline", "openai", "anthropic", "gemini", "local")
# Models listed by /ai/models for a configured provider (any other name is passed through).
SUGGESTED_MODELS = {
    "openai": ["gpt-4o-mini", "gpt-4o", "gpt-4.1-mini"],
    "anthropic": ["claude-3-5-haiku-latest", "claude-sonnet-4-20250514"],
    "gemini": ["gemini-2.0-flash", "gemini-1.5-pro"],
}
OFFLINE_DEFAULT = "offline/writer"


@dataclass(frozen=True)
class Route:
    model: str  # our id, "provider/name"
    provider: str
    name: str
    litellm_model: str
    call_kwargs: dict = field(default_factory=dict)  # api_key / api_base for litellm


def api_key_for(provider: str, workspace_id: int | None = None) -> str:
    """The key a call for `workspace_id` uses: the workspace's own, else the environment's."""
    own = selectors.workspace_provider_key(workspace_id=workspace_id, provider=provider)
    return own or getattr(settings, f"{provider.upper()}_API_KEY", "")


def is_configured(provider: str, workspace_id: int | None = None) -> bool:
    if provider == "offline":
        return True
    if provider == "local":
        return bool(settings.LOCAL_LLM_BASE_URL)
    return bool(api_key_for(provider, workspace_id))


def default_model() -> str:
    """AI_DEFAULT_MODEL when it is set and its provider is configured; else offline/writer.

    A key in the environment alone never switches the default to a paid provider: choosing one
    is an explicit AI_DEFAULT_MODEL.
    """
    wanted = settings.AI_DEFAULT_MODEL
    if wanted and "/" in wanted:
        provider = wanted.split("/", 1)[0]
        if provider in PROVIDERS and is_configured(provider):
            return wanted
        logger.warning("AI_DEFAULT_MODEL %s is not usable; using %s", wanted, OFFLINE_DEFAULT)
    return OFFLINE_DEFAULT


def available_models() -> list[dict]:
    default = default_model()
    rows = [
        {"id": f"offline/{name}", "provider": "offline", "description": text}
        for name, text in offline.MODELS.items()
    ]
    for provider in ("openai", "anthropic", "gemini"):
        if is_configured(provider):
            rows += [
                {"id": f"{provider}/{n}", "provider": provider, "description": ""}
                for n in SUGGESTED_MODELS[provider]
            ]
    if is_configured("local"):
        rows += [
            {"id": f"local/{n}", "provider": "local", "description": "OpenAI-compatible server"}
            for n in settings.LOCAL_LLM_MODELS
        ]
    if default not in {r["id"] for r in rows}:
        rows.append({"id": default, "provider": default.split("/", 1)[0], "description": ""})
    for row in rows:
        row["default"] = row["id"] == default
    return rows


def providers() -> list[dict]:
    return [{"id": p, "configured": is_configured(p)} for p in PROVIDERS]


def resolve(
    model: str | None, provider: str | None = None, *, workspace_id: int | None = None
) -> Route:
    """Turn a requested model (and optional provider) into a Route, or raise a 4xx error.
    A workspace's own provider key, when it has one, wins over the environment's."""
    if provider is not None and provider not in PROVIDERS:
        raise errors.UnknownProvider(
            f"Unknown provider '{provider}'.", details={"providers": list(PROVIDERS)}
        )
    if not model:
        model = default_model() if provider is None else _provider_default(provider)
    if "/" not in model:
        if provider is None:
            raise errors.UnknownModel(
                f"Unknown model '{model}': use 'provider/name', e.g. '{OFFLINE_DEFAULT}'.",
                details={"model": model},
            )
        model = f"{provider}/{model}"
    prefix, name = model.split("/", 1)
    if provider is not None and prefix != provider:
        raise errors.InvalidInput(
            f"Model '{model}' does not belong to provider '{provider}'.",
            details={"model": model, "provider": provider},
        )
    if prefix not in PROVIDERS:
        raise errors.UnknownProvider(
            f"Unknown provider '{prefix}' in model '{model}'.",
            details={"model": model, "providers": list(PROVIDERS)},
        )
    if not name.strip():
        raise errors.UnknownModel(f"Model '{model}' has no name.", details={"model": model})
    if prefix == "offline" and name not in offline.MODELS:
        raise errors.UnknownModel(
            f"Unknown offline model '{model}'.",
            details={"model": model, "models": [f"offline/{n}" for n in offline.MODELS]},
        )
    if not is_configured(prefix, workspace_id):
        hint = "LOCAL_LLM_BASE_URL" if prefix == "local" else f"{prefix.upper()}_API_KEY"
        raise errors.ProviderNotConfigured(
            f"Provider '{prefix}' is not configured on this server (set {hint}).",
            details={"provider": prefix, "model": model},
        )
    if prefix == "local":
        kwargs = {
            "api_base": settings.LOCAL_LLM_BASE_URL,
            "api_key": settings.LOCAL_LLM_API_KEY or "not-needed",
        }
        return Route(model, prefix, name, f"openai/{name}", kwargs)
    if prefix == "offline":
        return Route(model, prefix, name, model)
    kwargs = {"api_key": api_key_for(prefix, workspace_id)}
    api_base = getattr(settings, f"{prefix.upper()}_API_BASE", "")
    if api_base:  # a proxy or gateway in front of the provider
        kwargs["api_base"] = api_base
    return Route(model, prefix, name, model, kwargs)


def _provider_default(provider: str) -> str:
    if provider == "offline":
        return OFFLINE_DEFAULT
    if provider == "local":
        names = settings.LOCAL_LLM_MODELS
        return f"local/{names[0]}" if names else "local/"
    return f"{provider}/{SUGGESTED_MODELS[provider][0]}"
