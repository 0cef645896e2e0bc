"""Analytics' domain errors (mapped once, in config/api, to the JSON error shape)."""

from config.errors import DomainError, Forbidden


class InvalidQuery(DomainError):
    """A parameter the analytics endpoints cannot answer: an unknown time_range, bucket or
    metric, an unparsable date, an inverted range or one over the maximum."""

    status_code = 400
    code = "invalid_query"
    default_message = "The analytics query is not valid."


class NamespaceForbidden(Forbidden):
    code = "cache_namespace_forbidden"
    default_message = "You may not clear this cache namespace."


class UnknownNamespace(DomainError):
    status_code = 400
    code = "unknown_cache_namespace"
    default_message = "No such cache namespace."
