"""A run's lifecycle in the audit log: started, cancelled, retried, rerun, approved, rejected,
failed, succeeded. The engine writes runs with plain SQL, which django-auditlog never sees, so
each verb writes its row itself, inside the transaction that makes the change: both commit or
neither does. One row per run event, never per step (the chain's lock stays off the step
path); the documents a run wrote are in the document table, by run and step.
"""

from audit.services import record_change


def record(run, event: str, *, actor=None, **details) -> None:
    """`actor`: an accounts.scoping.Actor, a User, or None (the system, or whoever the request
    or `audit.context.acting_for` says)."""
    user = getattr(actor, "user", actor)
    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    record_change(
        model="workflows.Run",
        object_id=run.pk,
        event=f"run.{event}",
        workspace=run.workspace_id,
        actor=user,
        object_repr=f"run {run.pk} of workflow {run.workflow_id}",
        changes={"status": [None, str(run.status)]},
        details={"workflow_id": run.workflow_id, **details},
    )
