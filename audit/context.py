"""Who is acting, for audit rows written far from the view (services, signal receivers).

`AuditContextMiddleware` remembers the current request. DRF authenticates inside the view and
then writes its user onto the Django request too, so by the time a service saves a model, the
request's user is the JWT's or the API key's user, where auditlog's own middleware (which
runs before the view) saw an anonymous one. Celery jobs that act for someone use
`acting_for(user)`, which is auditlog's `set_actor`.
"""

import contextlib
from contextvars import ContextVar
from functools import partial

from auditlog.context import auditlog_value, set_actor
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


_acting_user: ContextVar = ContextVar("audit_acting_user", default=None)


def acting_user():
    """The user `acting_for` names here, or None."""
    return _acting_user.get()


@contextlib.contextmanager
def acting_for(user, *, remote_addr: str | None = None):
    """Audit rows written inside name `user` (a User or a user id) as their actor: for Celery
    jobs and commands that act for someone. Wraps auditlog's `set_actor`, and puts its
    context back afterwards (auditlog leaves its value behind, which a later job in the same
    thread would otherwise inherit). A user id is looked up only once an audit row asks who
    acted: a Celery task that writes none (most) pays no query for it."""
    if user is not None and not isinstance(user, get_user_model()):
        user = SimpleLazyObject(partial(_user_or_none, user))
    previous = auditlog_value.get(None)
    token = _acting_user.set(user)
    try:
        with set_actor(user, remote_addr=remote_addr):
            yield
    finally:
        _acting_user.reset(token)
        # No "unset" without auditlog's token: a context no receiver answers to instead.
        auditlog_value.set(previous if previous is not None else {"signal_duid": None})


def _user_or_none(user_id):
    return get_user_model()._default_manager.filter(pk=user_id).first()


def request_remote_addr() -> str | None:
    request = _current_request.get()
    return client_ip(request) if request is not None else None
