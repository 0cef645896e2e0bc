"""Small numeric helpers shared by the apps' statistics and the bench scripts (no Django)."""

from datetime import datetime


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """The `fraction` (0-1) percentile of an ascending list, by linear interpolation between
    closest ranks (PostgreSQL's percentile_cont, numpy's default); None for no values."""
    if not sorted_values:
        return None
    position = (len(sorted_values) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def month_start(now: datetime) -> datetime:
    """Midnight of the first day of `now`'s month, in `now`'s time zone (UTC in this project)."""
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
