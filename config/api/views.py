"""Django-level error pages in the API's error shape (URLs no view matched, crashes)."""

from django.views.defaults import page_not_found, server_error

from config.api.exceptions import error_response


def _wants_json(request) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get(
        "Accept", ""
    )


def not_found(request, exception=None):
    if _wants_json(request):
        return error_response(404, "not_found", "Not found.", {"path": request.path})
    return page_not_found(request, exception)


def server_failure(request):
    if _wants_json(request):
        return error_response(500, "server_error", "An unexpected error occurred; it was logged.")
    return server_error(request)
