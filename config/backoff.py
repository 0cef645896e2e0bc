"""The one retry backoff, for workflow steps and background tasks alike."""

import random


def backoff_delay(
    *, attempt: int, base: float, cap: float, factor: float = 2.0, at_least: float | None = None
) -> float:
    """Seconds before retry number `attempt` (1 = the first retry): `base * factor**(attempt-1)`,
    capped at `cap`, times a jitter in [0.5, 1.0] so a burst of failures does not come back as a
    burst; never sooner than `at_least` (a provider's Retry-After), itself capped."""
    exponential = min(base * factor ** max(attempt - 1, 0), cap)
    delay = exponential * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not security
    return max(delay, min(at_least or 0.0, cap))
