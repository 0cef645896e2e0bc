"""Running the chain verification: the result, and a critical security event when it fails."""

from audit import chain
from audit.events import SecurityEventKind
from audit.services import record_security_event


def verify_and_report(*, workspace_id: int | None = None) -> dict:
    checked, problems = chain.verify(workspace_id=workspace_id)
    result = {
        "chains": checked,
        "ok": not problems,
        "problems": [problem.describe() for problem in problems],
    }
    if problems:
        first = problems[0]
        workspace = (
            int(first.chain[2:])
            if first.chain.startswith("w:") and first.chain[2:].isdigit()
            else None
        )
        record_security_event(
            SecurityEventKind.AUDIT_VERIFY_FAILED,
            workspace=workspace,
            details={"problems": result["problems"][:20], "chains_checked": checked},
        )
    return result
