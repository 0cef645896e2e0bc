"""The AI gateway's errors. Each is transient (worth retrying: rate limits, timeouts, a provider
that is down, a reply that did not match the schema) or permanent (the same request will fail
again). The workflow engine retries only `transient` ones."""

from django_ratelimit.exceptions import Ratelimited

from config.errors import DomainError


class GenerationRateLimited(Ratelimited):
    """Too many generations for one user or workspace (the API's 429, with Retry-After)."""

    def __init__(self, retry_after: int):
        super().__init__()
        self.retry_after = max(1, retry_after)


class AIError(DomainError):
    code = "ai_error"
    transient: bool = False


class TransientAIError(AIError):
    transient = True
    status_code = 503
    code = "ai_transient_error"
    default_message = "The model provider failed for a reason that may pass; retry later."


class PermanentAIError(AIError):
    transient = False
    status_code = 400
    code = "ai_permanent_error"
    default_message = "The model request cannot succeed as it is."


# --- transient ---------------------------------------------------------------------------
class RateLimited(TransientAIError):
    status_code = 429
    code = "provider_rate_limited"
    default_message = "The model provider is rate limiting requests; retry later."

    def __init__(self, message: str | None = None, *, retry_after: float | None = None, **kw):
        super().__init__(message, **kw)
        # Seconds the provider asked us to wait (its Retry-After), when it said.
        self.retry_after = retry_after
        if retry_after is not None:
            self.details = {**self.details, "retry_after_seconds": retry_after}


class ProviderTimeout(TransientAIError):
    status_code = 504
    code = "provider_timeout"
    default_message = "The model provider did not answer in time."


class ProviderUnavailable(TransientAIError):
    status_code = 502
    code = "provider_unavailable"
    default_message = "The model provider could not be reached or failed (5xx)."


class SchemaMismatch(TransientAIError):
    status_code = 502
    code = "schema_mismatch"
    default_message = "The model's reply does not match the requested JSON Schema."


# --- permanent ---------------------------------------------------------------------------
class InvalidInput(PermanentAIError):
    """Our own checks on a request (empty or oversize prompt, temperature out of range...)."""

    code = "invalid_input"
    default_message = "The request is not valid."


class InvalidSchema(PermanentAIError):
    code = "invalid_schema"
    default_message = "response_schema is not a valid JSON Schema."


class UnknownModel(PermanentAIError):
    code = "unknown_model"
    default_message = "No such model."


class UnknownProvider(UnknownModel):
    code = "unknown_provider"
    default_message = "No such model provider."


class ProviderNotConfigured(PermanentAIError):
    code = "provider_not_configured"
    default_message = "That model provider is not configured on this server."


class BadRequest(PermanentAIError):
    code = "provider_bad_request"
    default_message = "The model provider refused the request as invalid."


class ProviderAuthError(PermanentAIError):
    # 424: the provider refused *our* credentials; a 401/403 would blame the caller's.
    status_code = 424
    code = "provider_auth_failed"
    default_message = "The model provider refused this server's credentials."


class ContentPolicyViolation(PermanentAIError):
    status_code = 422
    code = "content_policy_violation"
    default_message = "The model provider refused the content under its usage policy."
