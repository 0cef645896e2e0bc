"""The user behind an access token, kept in Redis beside its login session's state: a request
with a token reads the two in one round trip (`sessions.check_session`) and no user row.

The entry is the row's columns, not a pickled instance, and not the password hash (a deferred
field, read from the row if a request needs it). It is dropped when the row is saved or
deleted (accounts.signals), and again after the commit, for a request that read the old row
before it and cached that meanwhile. It lives CACHE_SECONDS at most, which bounds what is left
stale by a bulk `update()` (no signal) or a request caching the old row after that second drop.
What must end access at once does not rely on it: deactivating a user or changing a password
revokes the (other) login sessions, checked on every request. Without Redis the row is read.
"""

import contextlib

from django.core.cache import cache
from django.db import transaction

from accounts.models import User

CACHE_SECONDS = 300


def key(user_id) -> str:
    return f"user-row:{user_id}"


def _columns() -> list[str]:
    # Not the password hash: it stays in the database, loaded on first use (a deferred field).
    return [f.attname for f in User._meta.concrete_fields if f.attname != "password"]


def remember(user: User) -> None:
    columns = {name: getattr(user, name) for name in _columns()}
    with contextlib.suppress(Exception):  # Redis down: the row is read next time
        cache.set(key(user.pk), columns, CACHE_SECONDS)


def from_entry(columns: dict | None) -> User | None:
    if not columns:
        return None
    names = _columns()
    if set(columns) != set(names):  # written by another version of the model
        return None
    return User.from_db("default", names, [columns[name] for name in names])


def forget(user_id) -> None:
    def drop() -> None:
        with contextlib.suppress(Exception):  # Redis down: the entry expires on its own
            cache.delete(key(user_id))

    drop()
    transaction.on_commit(drop)
