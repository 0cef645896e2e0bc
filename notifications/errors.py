"""Domain errors of notifications (the API's 4xx), and the two outcomes a sender raises."""

from config.errors import Conflict, DomainError, NotFound


class InvalidNotification(DomainError):
    code = "validation_error"
    default_message = "The notification is invalid."


class UnsafeURL(InvalidNotification):
    code = "unsafe_url"
    default_message = "That URL points at a private, loopback or link-local address."


class TemplateInvalid(InvalidNotification):
    code = "template_invalid"
    default_message = "The template does not parse or uses a forbidden tag."


class TemplateVariableMissing(InvalidNotification):
    code = "template_variable_missing"
    default_message = "The template uses a variable the context does not have."


class ChannelNotConfigured(InvalidNotification):
    code = "channel_not_configured"
    default_message = "No active channel of that kind is configured in the workspace."


class WebPushUnavailable(NotFound):
    """The server has no (valid) VAPID key pair, so there is no public key to fetch: 404 (not a
    5xx: nothing failed; Web Push is simply not offered here)."""

    code = "webpush_not_configured"
    default_message = "Web Push is not configured on this server."


class RecipientInvalid(InvalidNotification):
    code = "recipient_invalid"
    default_message = "A recipient is not valid for the channel."


class BulkInvalid(InvalidNotification):
    """One item of a bulk request is invalid (its index is named); nothing was sent."""


class NotificationRateLimited(DomainError):
    status_code = 429
    code = "rate_limited"
    default_message = "Too many notifications; slow down and retry later."

    def __init__(self, message=None, *, retry_after: float = 60, **kw):
        super().__init__(message, **kw)
        self.retry_after = retry_after


class IdempotencyConflict(Conflict):
    code = "idempotency_key_reused"
    default_message = "That idempotency key was already used for a different notification."


class DeliveryNotRetryable(Conflict):
    code = "delivery_not_retryable"
    default_message = "Only a failed delivery can be retried."


class NotificationNotFound(NotFound):
    pass


# --- What a channel's sender raises ------------------------------------------------------


class SendFailed(Exception):
    """A failed attempt. `transient` ones are retried with backoff; others fail at once."""

    transient = False

    def __init__(
        self,
        message: str,
        *,
        code: str = "send_failed",
        status: int | None = None,
        response: str = "",
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.response = response[:500]
        self.retry_after = retry_after


class TransientSendError(SendFailed):
    transient = True


class PermanentSendError(SendFailed):
    transient = False
