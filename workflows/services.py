"""Every write of the workflows app, in one place (STYLE.md: services for writes, selectors for
reads). Views, tasks, commands and the admin call these; each checks the caller's role, runs
in one transaction and raises the domain errors of `workflows.errors`.

The verbs live beside what they change (authoring.py: definitions and steps; scheduling.py:
schedules; engine/runs.py: runs) and are re-exported here; budgets are written here.
"""

from decimal import Decimal

from django.db import transaction

from accounts.models import Role, Workspace
from accounts.scoping import Actor, require_role
from config.errors import DomainError
from workflows.authoring import (
    add_step,
    create_workflow,
    delete_step,
    delete_workflow,
    import_workflow,
    reorder_steps,
    replace_definition,
    save_definition_as_staff,
    update_step,
    update_workflow,
)
from workflows.engine.runs import (
    approve_step,
    cancel_run,
    reject_step,
    rerun_from,
    retry_run,
    start_run,
)
from workflows.models import Budget
from workflows.scheduling import create_schedule, delete_schedule, update_schedule

__all__ = [
    "add_step",
    "approve_step",
    "cancel_run",
    "create_schedule",
    "create_workflow",
    "delete_schedule",
    "delete_step",
    "delete_workflow",
    "import_workflow",
    "reject_step",
    "reorder_steps",
    "replace_definition",
    "rerun_from",
    "retry_run",
    "save_definition_as_staff",
    "set_budget",
    "start_run",
    "update_schedule",
    "update_step",
    "update_workflow",
]


@transaction.atomic
def set_budget(
    *,
    actor: Actor,
    workspace: Workspace | int,
    monthly_cost_limit: Decimal | None,
    monthly_token_limit: int | None,
) -> Budget:
    """Set (or clear, with None) the workspace's monthly limits. Admins and owners only; the
    engine enforces them (engine/budget.py)."""
    require_role(actor, workspace, Role.ADMIN)
    if monthly_cost_limit is not None and monthly_cost_limit < 0:
        raise DomainError(
            "The cost limit cannot be negative.",
            details={"monthly_cost_limit": ["must be zero or more"]},
            code="validation_error",
        )
    workspace_id = workspace if isinstance(workspace, int) else workspace.pk
    budget, _ = Budget.objects.select_for_update().get_or_create(workspace_id=workspace_id)
    budget.monthly_cost_limit = monthly_cost_limit
    budget.monthly_token_limit = monthly_token_limit
    budget.save()
    return budget
