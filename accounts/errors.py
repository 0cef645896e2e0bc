from config.errors import Conflict, DomainError, Forbidden


class InsufficientRole(Forbidden):
    code = "insufficient_role"


class LastOwner(Conflict):
    code = "last_owner"
    default_message = "A workspace must keep at least one owner."


class AlreadyMember(Conflict):
    code = "already_member"
    default_message = "That user is already a member of this workspace."


class UnknownUser(DomainError):
    code = "unknown_user"
    default_message = "No user has that username or email."
