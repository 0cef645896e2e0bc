"""The one backoff, percentile and month start that every app uses."""

from datetime import UTC, datetime

from config.backoff import backoff_delay
from config.stats import month_start, percentile


def test_backoff_grows_exponentially_capped_with_jitter():
    for attempt, expected in [(1, 2.0), (2, 4.0), (3, 8.0), (4, 16.0), (10, 60.0)]:
        delays = {backoff_delay(attempt=attempt, base=2.0, cap=60) for _ in range(50)}
        assert all(expected * 0.5 <= d <= expected for d in delays)
        assert len(delays) > 1  # jittered


def test_backoff_factor_is_the_growth_per_retry():
    delays = [backoff_delay(attempt=3, base=1.0, factor=3.0, cap=100) for _ in range(20)]
    assert all(4.5 <= d <= 9.0 for d in delays)


def test_backoff_waits_at_least_what_the_provider_asked_up_to_the_cap():
    assert all(backoff_delay(attempt=1, base=0.1, cap=60, at_least=5) == 5 for _ in range(20))
    assert all(5 <= backoff_delay(attempt=1, base=10, cap=60, at_least=1) <= 10 for _ in range(20))
    assert backoff_delay(attempt=1, base=0.1, cap=60, at_least=3600) == 60


def test_percentile_interpolates_between_closest_ranks():
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.95) == 7.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([10.0, 20.0, 30.0, 40.0, 50.0], 0.95) == 48.0
    assert percentile([1.0, 2.0, 3.0], 0.0) == 1.0 and percentile([1.0, 2.0, 3.0], 1.0) == 3.0


def test_month_start_is_midnight_of_the_first():
    now = datetime(2026, 11, 29, 21, 30, 5, 123, tzinfo=UTC)
    assert month_start(now) == datetime(2026, 11, 1, tzinfo=UTC)
