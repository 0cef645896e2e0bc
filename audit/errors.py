from config.errors import Conflict, DomainError


class InvalidAuditQuery(DomainError):
    status_code = 400
    code = "invalid_audit_query"
    default_message = "The audit query is not valid."


class AlertAlreadyAcknowledged(Conflict):
    code = "alert_already_acknowledged"
    default_message = "This alert is already acknowledged."
