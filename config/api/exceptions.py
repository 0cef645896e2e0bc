"""One exception handler: every error the API raises leaves as
`{"error": {"code": ..., "message": ..., "details": ...}}`."""

import logging
import math
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError as DatabaseInterfaceError
from django.db import OperationalError as DatabaseOperationalError
from django.http import Http404, JsonResponse
from django_ratelimit.exceptions import Ratelimited
from kombu.exceptions import OperationalError as BrokerOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from config.errors import DomainError

logger = logging.getLogger(__name__)

RATE_LIMIT_RETRY_AFTER_SECONDS = 60
# A dependency that does not answer: the client is told to come back shortly.
UNAVAILABLE_RETRY_AFTER_SECONDS = 5
# Redis (cache, channel layer, stats), the broker, the database: down means 503, not 500.
UNAVAILABLE_ERRORS = (
    RedisConnectionError,
    RedisTimeoutError,
    BrokerOperationalError,
    DatabaseOperationalError,
    DatabaseInterfaceError,
)


def error_body(code: str, message: str, details: Any = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def error_response(status_code: int, code: str, message: str, details: Any = None, **kw):
    """A plain Django JsonResponse in the error shape, for code outside DRF views."""
    return JsonResponse(error_body(code, message, details), status=status_code, **kw)


def _validation_message(details: Any) -> str:
    """A one-line summary of a field-by-field error dict, naming the first problem."""
    if isinstance(details, dict) and details:
        field, problems = next(iter(details.items()))
        first = problems[0] if isinstance(problems, list) and problems else problems
        if isinstance(first, dict):
            return f"Invalid input in '{field}'."
        if field in ("non_field_errors", "detail"):
            return str(first)
        return f"{field}: {first}"
    if isinstance(details, list) and details:
        return str(details[0])
    return "Invalid input."


def unavailable_body(exc: Exception) -> dict:
    return error_body(
        "service_unavailable",
        "A service this request needs is not answering; retry shortly.",
        {"dependency": _dependency_of(exc)},
    )


def _dependency_of(exc: Exception) -> str:
    if isinstance(exc, DatabaseOperationalError | DatabaseInterfaceError):
        return "database"
    if isinstance(exc, BrokerOperationalError):
        return "broker"
    return "redis"


def exception_handler(exc: Exception, context: dict) -> Response | None:
    response = _handle(exc, context)
    if response is not None and response.status_code in AUDITED_STATUSES:
        from audit.services import record_refusal

        record_refusal(context.get("request"), response.status_code, view=context.get("view"))
    return response


# Refusals the audit counts (403 denied, 404 on an object id, 429 rate limited).
AUDITED_STATUSES = frozenset({403, 404, 429})


def _handle(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, UNAVAILABLE_ERRORS):
        logger.warning("dependency unavailable: %s: %s", type(exc).__name__, exc)
        return Response(
            unavailable_body(exc),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, DomainError):
        headers = {}
        if getattr(exc, "retry_after", None) is not None:  # e.g. a provider's own 429
            headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
        return Response(
            error_body(exc.code, exc.message, exc.details), status=exc.status_code, headers=headers
        )
    if isinstance(exc, Ratelimited):
        return Response(
            error_body("rate_limited", "Too many requests; slow down and retry later."),
            status=status.HTTP_429_TOO_MANY_REQUESTS,
            # A subclass may know when its window ends (ai.errors.GenerationRateLimited does).
            headers={
                "Retry-After": str(
                    getattr(exc, "retry_after", None) or RATE_LIMIT_RETRY_AFTER_SECONDS
                )
            },
        )
    if isinstance(exc, RequestDataTooBig):
        return Response(
            error_body("request_too_large", "The request body is larger than the limit."),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django's 500 handler answers (in the same shape)

    if isinstance(exc, exceptions.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = error_body("validation_error", _validation_message(details), details)
        return response

    detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
    details: Any = {}
    if isinstance(detail, dict):
        # simplejwt's InvalidToken carries {"detail", "code", "messages"}
        message = str(detail.get("detail", "Request failed."))
        details = {k: v for k, v in detail.items() if k not in ("detail", "code")}
    else:
        message = str(detail)
    code = _code_of(exc)
    if isinstance(exc, exceptions.Throttled):
        code = "rate_limited"  # one code for every 429 the API sends
        if exc.wait is not None:
            details = {"retry_after_seconds": int(exc.wait)}
    response.data = error_body(code, message, details)
    return response


def _code_of(exc: Exception) -> str:
    if isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        if isinstance(codes, str):
            return codes
        if isinstance(codes, dict) and isinstance(codes.get("code"), str):
            return codes["code"]
        return exc.default_code
    return "error"
