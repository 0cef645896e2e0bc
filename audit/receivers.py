"""Django's authentication signals as security events: every login path that calls
`authenticate()` (JWT, admin, the browsable API's session login) reports its failures, and
the JWT login view and Django's own login send `user_logged_in`. And the audit rows' actor
inside `acting_for`."""

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import pre_save
from django.dispatch import receiver

from audit.context import fill_actor
from audit.events import SecurityEventKind
from audit.models import AuditLogEntry
from audit.services import record_security_event

# Who acts for a job (audit.context.acting_for): connected once for every audit row.
pre_save.connect(fill_actor, sender=AuditLogEntry, dispatch_uid="audit.fill_actor")


@receiver(user_login_failed, dispatch_uid="audit.login_failed")
def _login_failed(sender, credentials, request=None, **kwargs):
    # `credentials` comes cleansed by Django: the password is already masked out.
    username = str(credentials.get(get_user_model().USERNAME_FIELD) or "")
    record_security_event(
        SecurityEventKind.LOGIN_FAILED, request=request, username=username, actor=None
    )


@receiver(user_logged_in, dispatch_uid="audit.logged_in")
def _logged_in(sender, request=None, user=None, **kwargs):
    record_security_event(SecurityEventKind.LOGIN_SUCCEEDED, request=request, actor=user)


@receiver(user_logged_out, dispatch_uid="audit.logged_out")
def _logged_out(sender, request=None, user=None, **kwargs):
    if user is not None:
        record_security_event(SecurityEventKind.LOGOUT, request=request, actor=user)
