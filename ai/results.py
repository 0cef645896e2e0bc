from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CompletionResult:
    content: str
    model: str
    provider: str
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost: float
    latency_ms: float
    cached: bool
    data: Any = None  # the parsed JSON when response_schema was given
    usage_id: int | None = None  # the UsageRecord written for this call (None when deferred)
    finish_reason: str = "stop"

    def as_usage(self) -> dict:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }
