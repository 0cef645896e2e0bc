"""Per-connection limits. A connection lives in exactly one process, so its buckets do too:
no other process ever needs them."""

import time

from django.conf import settings


class TokenBucket:
    """`capacity` tokens, refilled at `rate` per second; `take()` spends one if it can."""

    def __init__(self, *, rate: float, capacity: float, clock=time.monotonic):
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.clock = clock
        self.updated = clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    def seconds_until_token(self) -> float:
        return max(0.0, (1 - self.tokens) / self.rate) if self.rate else float("inf")


class MessageRate:
    """A connection's message rate: a bucket of messages, and a bucket of patience that each
    refused message spends (refilling at a twentieth of the message rate). `check()` says
    whether a message is accepted ("ok"), refused with a warning ("slow_down", and how long
    until a message is accepted), or whether the client keeps flooding ("close")."""

    def __init__(self, *, rate: float, burst: int, tolerance: int, clock=time.monotonic):
        self.messages = TokenBucket(rate=rate, capacity=burst, clock=clock)
        self.patience = TokenBucket(rate=rate / 20, capacity=tolerance, clock=clock)

    def check(self) -> tuple[str, float]:
        if self.messages.take():
            return "ok", 0.0
        if not self.patience.take():
            return "close", 0.0
        return "slow_down", self.messages.seconds_until_token()


def client_limits() -> dict:
    """The limits a client is told in `connection.ready`, so it can keep to them."""
    return {
        "max_message_bytes": settings.REALTIME_MAX_MESSAGE_BYTES,
        "max_broadcast_bytes": settings.REALTIME_MAX_BROADCAST_BYTES,
        "messages_per_second": settings.REALTIME_RATE_PER_SECOND,
        "burst": settings.REALTIME_RATE_BURST,
        "max_subscriptions": settings.REALTIME_MAX_SUBSCRIPTIONS,
        "max_connections": settings.REALTIME_MAX_CONNECTIONS,
    }
