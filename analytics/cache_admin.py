"""Cache management: statistics and clearing per namespace, and the per-workspace AI TTL.

Namespaces:
- `ai_replies` (the `ai` alias, CACHE_URL): per workspace. Members see their workspaces'
  figures; workspace admins clear their workspace's; staff clear any (or all).
- `rate_limits` (RATELIMIT_USE_CACHE, Redis): login, registration and AI rate-limit counters of
  the whole service. Staff only.
Keys and memory come from Redis itself (SCAN, MEMORY USAGE, INFO); a local-memory or file
backend cannot list its keys, and says so with nulls.
"""

from django.conf import settings
from django.core.cache import caches
from django.db import transaction

from accounts.models import Role
from accounts.scoping import Actor, require_role, workspaces_for
from ai import cache as ai_cache
from ai import cache_inspect
from ai.models import WorkspaceCacheSettings
from analytics.errors import InvalidQuery, NamespaceForbidden, UnknownNamespace
from config.errors import NotFound

NAMESPACES = ("ai_replies", "rate_limits")
RATE_LIMIT_PATTERN = "rl:*"  # django-ratelimit's keys in the default cache
MAX_TTL_SECONDS = 30 * 24 * 3600


def _rate_limit_cache():
    return caches[getattr(settings, "RATELIMIT_USE_CACHE", "default")]


def _backend_name(cache) -> str:
    return type(cache).__name__


def _ai_namespace(workspace_id: int) -> dict:
    cache = ai_cache.backend()
    return {
        "namespace": "ai_replies",
        "workspace": workspace_id,
        "backend": _backend_name(cache),
        "ttl_seconds": ai_cache.ttl_for(workspace_id),
        **ai_cache.counters(workspace_id),
        **cache_inspect.namespace_figures(cache, ai_cache.key_pattern(workspace_id)),
    }


def cache_stats(*, actor: Actor, workspace_id: int | None = None) -> dict:
    """Figures of every namespace the caller may see."""
    if workspace_id is not None:
        require_role(actor, workspace_id, Role.VIEWER)
        ids = [workspace_id]
    else:
        ids = sorted(workspaces_for(actor).values_list("id", flat=True))
    namespaces = [_ai_namespace(i) for i in ids]
    body: dict = {"namespaces": namespaces}
    if actor.user.is_staff:
        default = _rate_limit_cache()
        namespaces.append(
            {
                "namespace": "rate_limits",
                "workspace": None,
                "backend": _backend_name(default),
                **cache_inspect.namespace_figures(default, RATE_LIMIT_PATTERN),
            }
        )
        body["servers"] = {
            "ai": cache_inspect.server_figures(ai_cache.backend()),
            "rate_limits": cache_inspect.server_figures(default),
        }
    return body


def clear_cache(*, actor: Actor, namespace: str, workspace_id: int | None = None) -> dict:
    """Clear a namespace: a workspace's AI replies (its admins, or staff), every workspace's
    AI replies or the rate limits (staff)."""
    if namespace not in NAMESPACES:
        raise UnknownNamespace(
            f"Unknown namespace {str(namespace)[:40]!r}; use one of {', '.join(NAMESPACES)}.",
            details={"namespace": str(namespace)[:100], "allowed": list(NAMESPACES)},
        )
    staff = actor.user.is_staff and actor.api_key is None
    if namespace == "rate_limits":
        if not staff:
            raise NamespaceForbidden("Only staff may clear the rate limits.")
        deleted = cache_inspect.delete_matching(_rate_limit_cache(), RATE_LIMIT_PATTERN)
        return {"namespace": namespace, "workspace": None, "deleted_keys": deleted}
    if workspace_id is None:
        if not staff:
            raise InvalidQuery(
                "Name the workspace whose AI replies to clear.",
                details={"workspace": ["This field is required."]},
            )
        deleted = cache_inspect.delete_matching(ai_cache.backend(), ai_cache.key_pattern())
        return {"namespace": namespace, "workspace": None, "deleted_keys": deleted}
    if not staff:
        try:
            require_role(actor, workspace_id, Role.ADMIN)
        except NotFound:
            raise
        except Exception as exc:  # a member without the admin role
            raise NamespaceForbidden(
                "Only the workspace's admins and owners may clear its AI replies."
            ) from exc
    deleted = ai_cache.clear_workspace(workspace_id)
    return {"namespace": namespace, "workspace": workspace_id, "deleted_keys": deleted}


@transaction.atomic
def set_ai_cache_ttl(*, actor: Actor, workspace_id: int, ttl_seconds: int | None) -> dict:
    """A workspace's own AI reply TTL (None: the default AI_CACHE_TTL; 0: no caching)."""
    require_role(actor, workspace_id, Role.ADMIN)
    if ttl_seconds is not None and not 0 <= ttl_seconds <= MAX_TTL_SECONDS:
        raise InvalidQuery(
            f"ttl_seconds must be between 0 and {MAX_TTL_SECONDS}, or null.",
            details={"ttl_seconds": ttl_seconds},
        )
    row, _ = WorkspaceCacheSettings.objects.select_for_update().get_or_create(
        workspace_id=workspace_id
    )
    row.ttl_seconds = ttl_seconds
    row.save()
    return {"workspace": workspace_id, "ttl_seconds": ai_cache.ttl_for(workspace_id)}
