"""The base of every domain error. Apps subclass it in `<app>/errors.py`; the API's exception
handler maps it to `{"error": {"code", "message", "details"}}` with the class's status."""

from typing import Any


class DomainError(Exception):
    status_code = 400
    code = "domain_error"
    default_message = "The request could not be completed."

    def __init__(self, message: str | None = None, *, details: Any = None, code: str | None = None):
        self.message = message or self.default_message
        self.details = details if details is not None else {}
        if code:
            self.code = code
        super().__init__(self.message)


class NotFound(DomainError):
    status_code = 404
    code = "not_found"
    default_message = "Not found."


class Conflict(DomainError):
    status_code = 409
    code = "conflict"
    default_message = "The resource is not in a state that allows this."


class Forbidden(DomainError):
    status_code = 403
    code = "permission_denied"
    default_message = "You do not have permission to perform this action."
