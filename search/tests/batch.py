"""Test helper: the indexing batch lives in Redis, which outlives a test."""

from search import indexing


def forget_batch() -> None:
    """No waiting runs and no message due."""
    indexing._redis().delete(indexing._key(indexing.WAITING), indexing._key(indexing.DUE))
