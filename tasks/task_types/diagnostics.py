"""diagnostics.*: for operators checking the pipeline end to end (broker, workers, retries,
time limits, cancellation)."""

import time

from billiard.exceptions import SoftTimeLimitExceeded

from tasks.errors import TransientTaskError
from tasks.registry import TaskContext, task_type


@task_type(
    "diagnostics.echo",
    schema={"type": "object"},
    description="Returns its payload unchanged: the cheapest round trip through the pipeline.",
    time_limit=30,
)
def echo(ctx: TaskContext, payload: dict) -> dict:
    return {"echo": payload}


@task_type(
    "diagnostics.sleep",
    schema={
        "type": "object",
        "properties": {
            "seconds": {"type": "number", "minimum": 0, "maximum": 3600},
            "mode": {
                "enum": ["cooperative", "blocking", "stubborn"],
                "description": (
                    "cooperative (default): checks for cancel and time limit 10 times a "
                    "second; blocking: one long sleep, stopped only by the soft time limit; "
                    "stubborn: ignores the soft limit, so only the hard limit stops it."
                ),
            },
        },
        "required": ["seconds"],
        "additionalProperties": False,
    },
    description="Sleeps for `seconds`, reporting progress; checks time limits and cancel.",
)
def sleep(ctx: TaskContext, payload: dict) -> dict:
    seconds = float(payload["seconds"])
    mode = payload.get("mode", "cooperative")
    started = time.monotonic()
    if mode == "blocking":
        time.sleep(seconds)
    elif mode == "stubborn":
        deadline = started + seconds
        while time.monotonic() < deadline:
            try:
                time.sleep(max(0.0, deadline - time.monotonic()))
            except SoftTimeLimitExceeded:
                continue  # on purpose: lets an operator see the hard limit at work
    else:
        deadline = started + seconds
        while (left := deadline - time.monotonic()) > 0:
            ctx.check_cancelled()
            time.sleep(min(0.1, left))
            done = min(1.0, (time.monotonic() - started) / seconds) if seconds else 1.0
            ctx.progress(int(done * 100), f"slept {time.monotonic() - started:.1f}s")
    return {"slept_seconds": round(time.monotonic() - started, 3)}


@task_type(
    "diagnostics.flaky",
    schema={
        "type": "object",
        "properties": {"fail_times": {"type": "integer", "minimum": 0, "maximum": 10}},
        "required": ["fail_times"],
        "additionalProperties": False,
    },
    description=(
        "Fails its first `fail_times` attempts with a transient error, then succeeds: checks "
        "retries and backoff (submit it with max_retries >= fail_times)."
    ),
    max_retries=3,
)
def flaky(ctx: TaskContext, payload: dict) -> dict:
    if ctx.attempt <= payload["fail_times"]:
        raise TransientTaskError(f"planned failure {ctx.attempt} of {payload['fail_times']}")
    return {"succeeded_on_attempt": ctx.attempt}
