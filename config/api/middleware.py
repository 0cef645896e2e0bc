from django.conf import settings

from config.api.exceptions import error_response
from config.api.views import not_found, server_failure


class RequestBodyLimitMiddleware:
    """Refuse a body larger than MAX_REQUEST_BODY_BYTES with 413, before any view reads it.

    DRF parsers read the request stream directly, bypassing Django's
    DATA_UPLOAD_MAX_MEMORY_SIZE, so the declared length is checked here, once for every view.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        declared = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(declared)
        except ValueError:
            return error_response(400, "bad_request", "Content-Length is not a number.")
        if length > settings.MAX_REQUEST_BODY_BYTES:
            return error_response(
                413,
                "request_too_large",
                "The request body is larger than the limit.",
                {"limit_bytes": settings.MAX_REQUEST_BODY_BYTES, "received_bytes": length},
            )
        return self.get_response(request)


class ApiErrorShapeMiddleware:
    """API paths answer errors in the error shape in every mode: with DEBUG on, Django answers
    a URL no view matches (and a crash) with its HTML debug page instead of `handler404`.
    Outermost but for the request log, so it sees the final response (after CommonMiddleware's
    slash redirect)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            request.path.startswith("/api/")
            and response.status_code in (404, 500)
            and response.get("Content-Type", "").startswith("text/html")
        ):
            if response.status_code == 404:
                return not_found(request)
            return server_failure(request)
        return response
