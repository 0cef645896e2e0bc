"""Reads of AI usage, scoped to what the caller may see; totals computed in the database."""

from datetime import datetime
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate

from ai.models import BringYourOwnProvider, Outcome, UsageRecord, WorkspaceProviderKey


def usage_totals(*, workspace_id: int, since: datetime | None) -> dict:
    """{"tokens", "cost", "calls"} for one workspace since a moment (None: all time)."""
    rows = UsageRecord.objects.filter(workspace_id=workspace_id)
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    totals = rows.aggregate(
        tokens=Coalesce(Sum("total_tokens"), 0),
        cost=Coalesce(Sum("cost"), Decimal(0)),
        calls=Count("id"),
    )
    return {
        "tokens": int(totals["tokens"]),
        "cost": Decimal(totals["cost"]),
        "calls": totals["calls"],
    }


_AGGREGATES = {
    "calls": Count("id"),
    "cached_calls": Count("id", filter=Q(cached=True)),
    "failed_calls": Count("id", filter=Q(outcome=Outcome.ERROR)),
    "prompt_tokens": Coalesce(Sum("prompt_tokens"), 0),
    "completion_tokens": Coalesce(Sum("completion_tokens"), 0),
    "total_tokens": Coalesce(Sum("total_tokens"), 0),
    "cost": Coalesce(Sum("cost"), Decimal(0)),
}


def _clean(row: dict) -> dict:
    return {k: float(v) if isinstance(v, Decimal) else v for k, v in row.items()}


def usage_totals_of(rows: QuerySet[UsageRecord]) -> dict:
    """The totals of an already-scoped and filtered queryset, in one query."""
    return _clean(rows.order_by().aggregate(**_AGGREGATES))


def usage_summary(rows: QuerySet[UsageRecord]) -> dict:
    """Totals, by model and by day (UTC) for an already-scoped and filtered queryset."""
    rows = rows.order_by()
    by_model = rows.values("model", "provider").annotate(**_AGGREGATES).order_by("model")
    by_day = (
        rows.annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(**_AGGREGATES)
        .order_by("day")
    )
    return {
        "totals": _clean(rows.aggregate(**_AGGREGATES)),
        "by_model": [_clean(r) for r in by_model],
        "by_day": [{**_clean(r), "day": r["day"].isoformat()} for r in by_day],
    }


def workspace_provider_key(*, workspace_id: int | None, provider: str) -> str:
    """The workspace's own key for `provider`, decrypted, or "" when it has none."""
    if workspace_id is None:
        return ""
    row = WorkspaceProviderKey.objects.filter(workspace_id=workspace_id, provider=provider)
    return row.values_list("api_key", flat=True).first() or ""


def provider_keys_of(workspace_id: int) -> list[dict]:
    """Every bring-your-own provider with whether the workspace set a key, and its last four
    characters: the key itself is never read back out."""
    rows = {
        row.provider: row
        for row in WorkspaceProviderKey.objects.filter(workspace_id=workspace_id).defer("api_key")
    }
    return [
        {
            "provider": provider,
            "configured": provider in rows,
            "last4": rows[provider].last4 if provider in rows else "",
            "updated_at": rows[provider].updated_at if provider in rows else None,
        }
        for provider in BringYourOwnProvider.values
    ]


def usage_in_workspaces(workspace_ids) -> QuerySet[UsageRecord]:
    """For analytics, whose window has already checked the workspace ids."""
    return UsageRecord.objects.filter(workspace_id__in=list(workspace_ids)).order_by()
