"""Search's domain errors (mapped once, in config, to the JSON error shape)."""

from config.errors import DomainError


class InvalidQuery(DomainError):
    status_code = 400
    code = "invalid_query"
    default_message = "The search query is not valid."


class NotAnEmbeddingModel(DomainError):
    status_code = 400
    code = "not_an_embedding_model"
    default_message = "That model does not make embeddings."


class EmbeddingUnavailable(DomainError):
    """The configured embedding model cannot answer now (a provider down, an extra not
    installed): a 503, and the indexer tries again later."""

    status_code = 503
    code = "embedding_unavailable"
    default_message = "The embedding model is not available right now."
