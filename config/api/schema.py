"""The project's AutoSchema: every operation declares the errors it can answer, in the one
error shape, here once rather than in every view's `@extend_schema`."""

from drf_spectacular import openapi
from rest_framework import permissions, serializers

ERROR_DESCRIPTIONS = {
    "400": "Invalid input: a field, a query parameter or the body (malformed, nested too deep).",
    "401": "No valid credential, or the credential given is wrong.",
    "403": "Authenticated, but the role or the API key's scope does not allow this.",
    "404": "No such object in the caller's workspaces.",
    "409": "The object is not in a state that allows this.",
    "413": "The request body is larger than the limit.",
    "429": "Too many requests; `Retry-After` says when to retry.",
    "503": "A service this request needs (database, Redis, broker) is not answering; "
    "`Retry-After` says when to retry.",
}
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# A server-sent event as clients (and schemathesis) read it: the event's name and its data, a
# JSON text (for `error`, the error shape).
SSE_EVENT_SCHEMA = {
    "type": "object",
    "properties": {
        "event": {"type": "string"},
        "data": {"type": "string", "description": "JSON text"},
        "id": {"type": "string"},
    },
}


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable: `validation_error`, ...")
    message = serializers.CharField(help_text="One line for people.")
    details = serializers.JSONField(help_text="Field-by-field problems or other context.")


class ErrorSerializer(serializers.Serializer):
    """`{"error": {"code", "message", "details"}}`: every error the API answers."""

    error = ErrorDetailSerializer()


class AutoSchema(openapi.AutoSchema):
    def _error_codes(self) -> list[str]:
        codes = ["400", "401", "404", "429", "503"]
        view_permissions = (
            self.view.get_permissions() if hasattr(self.view, "get_permissions") else []
        )
        if not all(isinstance(p, permissions.AllowAny) for p in view_permissions):
            codes.append("403")
        if self.method in WRITE_METHODS:
            codes += ["409", "413"]
        return sorted(codes)

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code in self._error_codes():
            if code in responses:
                continue
            body = self._get_response_for_code(ErrorSerializer, code, direction=direction)
            body["description"] = ERROR_DESCRIPTIONS[code]
            if "text/event-stream" in body.get("content", {}):
                body["content"]["text/event-stream"] = {"schema": SSE_EVENT_SCHEMA}
            responses[code] = body
        return responses
