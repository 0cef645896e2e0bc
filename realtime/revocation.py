"""Access that ends while a WebSocket is open: the connection hears of it at once.

Membership is checked when a topic or room is joined; these receivers tell the open
connections when it no longer holds, once the change has committed:
- a membership deleted (a member removed or leaving, a workspace or user deleted: the
  cascade deletes memberships one by one, sending this signal) -> `access.revoked` to the
  user's group: each of the user's connections drops what it joined in that workspace;
- an API key revoked, expired by an edit, or deleted -> `api_key.revoked` to the key's
  group: each connection that authenticated with it is closed;
- a user deactivated or deleted -> `account.disabled` to the user's group: each of their
  connections, whatever its credential, is closed.
- a login session revoked (logout, revocation, password change) -> `session.revoked` to the
  user's group: the connections that authenticated with that session are closed.
A role change keeps the membership (every role can read), so it is not one of these.

Receivers rather than calls from `accounts.services`: accounts knows nothing of realtime, and
the cascades above happen outside its services.
"""

from django.db.models.signals import post_delete, post_save

from accounts.models import ApiKey, Membership, User
from realtime import errors, events, groups

ACCESS_REVOKED = "access.revoked"
API_KEY_REVOKED = "api_key.revoked"
ACCOUNT_DISABLED = "account.disabled"
SESSION_REVOKED = "session.revoked"


def _membership_deleted(sender, instance: Membership, **kwargs) -> None:
    events.publish_on_commit(
        ACCESS_REVOKED,
        {"workspace_id": instance.workspace_id},
        groups=[groups.user_group(instance.user_id)],
    )


def _api_key_ended(api_key: ApiKey) -> None:
    events.publish_on_commit(
        API_KEY_REVOKED, {"prefix": api_key.prefix}, groups=[groups.api_key_group(api_key.prefix)]
    )


def _api_key_saved(sender, instance: ApiKey, created: bool, **kwargs) -> None:
    if instance.revoked or instance.has_expired:
        _api_key_ended(instance)


def _api_key_deleted(sender, instance: ApiKey, **kwargs) -> None:
    _api_key_ended(instance)


def _account_ended(user_id: int) -> None:
    events.publish_on_commit(ACCOUNT_DISABLED, {}, groups=[groups.user_group(user_id)])


def _user_saved(sender, instance: User, created: bool, **kwargs) -> None:
    if not instance.is_active:
        _account_ended(instance.pk)


def _user_deleted(sender, instance: User, **kwargs) -> None:
    _account_ended(instance.pk)


def _session_revoked(sender, session, **kwargs) -> None:
    # Sent after commit already (accounts.sessions): publish now.
    events.publish(
        SESSION_REVOKED,
        {"session_id": str(session.pk)},
        groups=[groups.user_group(session.user_id)],
    )


def install() -> None:
    from accounts.signals import session_revoked  # noqa: PLC0415

    session_revoked.connect(_session_revoked, dispatch_uid=SESSION_REVOKED)
    post_delete.connect(_membership_deleted, sender=Membership, dispatch_uid=ACCESS_REVOKED)
    post_save.connect(_api_key_saved, sender=ApiKey, dispatch_uid=f"{API_KEY_REVOKED}.save")
    post_delete.connect(_api_key_deleted, sender=ApiKey, dispatch_uid=f"{API_KEY_REVOKED}.delete")
    post_save.connect(_user_saved, sender=User, dispatch_uid=f"{ACCOUNT_DISABLED}.save")
    post_delete.connect(_user_deleted, sender=User, dispatch_uid=f"{ACCOUNT_DISABLED}.delete")


# --- the connection's side ------------------------------------------------------------------
def ending_error(kind: str | None, group: str, *, own_group: str, key_group: str | None):
    """The error a connection is closed with for an event on its own groups, or None (the
    event is an ordinary one, or `access.revoked`, which only leaves a workspace's topics)."""
    if kind == API_KEY_REVOKED and group == key_group:
        return errors.ApiKeyRevoked()
    if kind == ACCOUNT_DISABLED and group == own_group:
        return errors.AccountDisabled()
    return None
