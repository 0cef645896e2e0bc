"""Who is acting, for audit rows written far from the view (services, signal receivers).

`AuditContextMiddleware` remembers the current request. DRF authenticates inside the view and
then writes its user onto the Django request too, so by the time a service saves a model, the
request's user is the JWT's or the API key's user, where auditlog's own middleware (which
runs before the view) saw an anonymous one. Celery jobs that act for someone use
`acting_for(user)`, which does what auditlog's `set_actor` does through one receiver
connected once (`fill_actor`), not one connected and disconnected per job.
"""

import contextlib
from contextvars import ContextVar
from dataclasses import dataclass
from functools import partial

from django.contrib.auth import get_user_model
from django.utils.functional import SimpleLazyObject

from config.client_ip import client_ip

_current_request: ContextVar = ContextVar("audit_current_request", default=None)


def current_request():
    return _current_request.get()


def current_user():
    """The authenticated user of the current request, or None."""
    request = _current_request.get()
    if request is None:
        return None
    user = getattr(request, "user", None)  # set by DRF after authentication
    return user if user is not None and getattr(user, "is_authenticated", False) else None


class AuditContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _current_request.set(request)
        try:
            return self.get_response(request)
        finally:
            _current_request.reset(token)


@dataclass(frozen=True)
class _Acting:
    user: object  # a User, a lazy one (from an id), or None
    remote_addr: str | None


_acting: ContextVar[_Acting | None] = ContextVar("audit_acting", default=None)


def acting_user():
    """The user `acting_for` names here, or None."""
    acting = _acting.get()
    return acting.user if acting is not None else None


@contextlib.contextmanager
def acting_for(user, *, remote_addr: str | None = None):
    """Audit rows written inside name `user` (a User or a user id) as their actor: for Celery
    jobs and commands that act for someone. A user id is looked up only once an audit row
    asks who acted: a Celery task that writes none (most) pays no query for it. Nothing is
    left behind for a later job in the same thread."""
    if user is not None and not isinstance(user, get_user_model()):
        user = SimpleLazyObject(partial(_user_or_none, user))
    token = _acting.set(_Acting(user, remote_addr))
    try:
        yield
    finally:
        _acting.reset(token)


def fill_actor(sender, instance, **kwargs) -> None:
    """pre_save of an audit row (and `services.record_changes`, which sends it for rows it
    inserts in bulk): inside `acting_for`, the row's actor, if none is set, and the remote
    address given there; what auditlog's `set_actor` receiver fills, before the row's hash
    covers them (models.AuditLogEntry._save_table)."""
    acting = _acting.get()
    if acting is None:
        return
    actor = acting.user
    if instance.actor_id is None and isinstance(actor, get_user_model()):
        instance.actor = actor
        instance.actor_email = getattr(actor, "email", None)
    if acting.remote_addr is not None:
        instance.remote_addr = acting.remote_addr


def _user_or_none(user_id):
    return get_user_model()._default_manager.filter(pk=user_id).first()


def request_remote_addr() -> str | None:
    request = _current_request.get()
    return client_ip(request) if request is not None else None
