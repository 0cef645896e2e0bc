"""Workspace budgets: monthly cost and token limits. Admins set them; the engine refuses to
start a step beyond them (it owns the enforcement)."""

from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.models import Role, Workspace
from accounts.scoping import Actor, require_role
from config.errors import DomainError
from workflows.models import Budget, Run


def start_of_month(now: datetime | None = None) -> datetime:
    now = now or timezone.now()
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def budget_of(workspace: Workspace) -> Budget:
    """The workspace's budget, or an unsaved one with no limits."""
    return Budget.objects.filter(workspace=workspace).first() or Budget(workspace=workspace)


def month_to_date(workspace: Workspace) -> dict:
    """What the workspace has used this (UTC) month: the AI gateway's usage records when the
    `ai` app is installed (what the engine enforces against), else its runs' totals."""
    since = start_of_month()
    try:
        from ai import selectors as ai_selectors  # optional app; workflows -> ai is allowed
    except ImportError:
        ai_selectors = None
    if ai_selectors is not None and hasattr(ai_selectors, "usage_totals"):
        used = ai_selectors.usage_totals(workspace_id=workspace.pk, since=since)
        return {"since": since, "cost": used["cost"], "tokens": used["tokens"], "source": "ai"}
    totals = Run.objects.filter(workspace=workspace, created_at__gte=since).aggregate(
        cost=Sum("cost"), tokens_in=Sum("tokens_in"), tokens_out=Sum("tokens_out")
    )
    return {
        "since": since,
        "cost": totals["cost"] or Decimal(0),
        "tokens": (totals["tokens_in"] or 0) + (totals["tokens_out"] or 0),
        "source": "runs",
    }


@transaction.atomic
def set_budget(
    *,
    actor: Actor,
    workspace: Workspace,
    monthly_cost_limit: Decimal | None,
    monthly_token_limit: int | None,
) -> Budget:
    """Set (or clear, with None) the workspace's monthly limits. Admins and owners only."""
    require_role(actor, workspace, Role.ADMIN)
    if monthly_cost_limit is not None and monthly_cost_limit < 0:
        raise DomainError(
            "The cost limit cannot be negative.",
            details={"monthly_cost_limit": ["must be zero or more"]},
            code="validation_error",
        )
    budget, _ = Budget.objects.select_for_update().get_or_create(workspace=workspace)
    budget.monthly_cost_limit = monthly_cost_limit
    budget.monthly_token_limit = monthly_token_limit
    budget.save()
    return budget
