"""Per-connection limits. A connection lives in exactly one process, so its buckets do too:
no other process ever needs them."""

import time


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
