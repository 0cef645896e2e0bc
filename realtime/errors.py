"""Errors a WebSocket client can get as an `error` event (`data: {code, message}`).

They are DomainErrors so a service a topic calls can raise the same classes the API maps; the
consumer turns any DomainError into an error event and keeps the connection open.
"""

from config.errors import DomainError


class InvalidMessage(DomainError):
    code = "invalid_message"
    default_message = "The message is not valid."


class MalformedJson(InvalidMessage):
    code = "malformed_json"
    default_message = "The message is not valid JSON."


class UnknownType(InvalidMessage):
    code = "unknown_type"
    default_message = "Unknown message type."


class MessageTooLarge(InvalidMessage):
    code = "message_too_large"
    default_message = "The message is larger than the server accepts."


class RateLimited(DomainError):
    status_code = 429
    code = "rate_limited"
    default_message = "Too many messages; slow down."


class TooManySubscriptions(DomainError):
    code = "too_many_subscriptions"
    default_message = "This connection has joined as many topics and rooms as it may."


class NotInRoom(DomainError):
    status_code = 403
    code = "not_in_room"
    default_message = "Join the room before broadcasting to it."


# The credential a connection authenticated with no longer holds: sent just before it is
# closed with 4401.
class TokenExpired(DomainError):
    status_code = 401
    code = "token_expired"
    default_message = "The access token has expired; reconnect with a new one."


class ApiKeyExpired(DomainError):
    status_code = 401
    code = "api_key_expired"
    default_message = "The API key has expired."


class AccountDisabled(DomainError):
    status_code = 401
    code = "account_disabled"
    default_message = "This account has been deactivated."


class SessionRevoked(DomainError):
    status_code = 401
    code = "session_revoked"
    default_message = "This login session has ended (logged out or revoked)."


class ApiKeyRevoked(DomainError):
    status_code = 401
    code = "api_key_revoked"
    default_message = "The API key has been revoked."


class ServiceUnavailable(DomainError):
    status_code = 503
    code = "service_unavailable"
    default_message = "A service the server needs is not answering; try again shortly."


class TooManyConnections(DomainError):
    status_code = 429
    code = "too_many_connections"
    default_message = "This user has as many open connections as allowed."
