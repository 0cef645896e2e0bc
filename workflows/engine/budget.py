"""Budgets: a step that would start beyond one fails with `budget_exceeded` before any
model call. The run's `max_cost` is checked against its running total; the workspace's
monthly limits against the AI gateway's usage records for the month."""

from django.utils import timezone

from config.stats import month_start
from workflows.engine import llm
from workflows.models import Budget, Run


def check_budget(run: Run, budget: Budget | None) -> None:
    """Raise PermanentStepError(code="budget_exceeded") if a limit is already reached.

    `budget` (the workspace's, or None) comes with the step's first query."""
    if run.max_cost is not None and run.cost >= run.max_cost:
        raise llm.PermanentStepError(
            f"The run has spent {run.cost} of its max_cost {run.max_cost}.",
            code="budget_exceeded",
        )
    if budget is None or (budget.monthly_cost_limit is None and budget.monthly_token_limit is None):
        return
    used = llm.usage_totals(workspace_id=run.workspace_id, since=month_start(timezone.now()))
    if budget.monthly_cost_limit is not None and used["cost"] >= budget.monthly_cost_limit:
        raise llm.PermanentStepError(
            f"The workspace has spent {used['cost']} of its monthly budget "
            f"{budget.monthly_cost_limit}.",
            code="budget_exceeded",
        )
    if budget.monthly_token_limit is not None and used["tokens"] >= budget.monthly_token_limit:
        raise llm.PermanentStepError(
            f"The workspace has used {used['tokens']} of its monthly "
            f"{budget.monthly_token_limit} tokens.",
            code="budget_exceeded",
        )
