"""Account mail (email change, invitations) on Django's email backend, sent after commit.

Not through the notifications app: notifications imports accounts, so accounts calling it
would be an import cycle; its notifications are a workspace's (its rate limits, opt-outs and
channels, and the message kept in a row that workspace members can list), while these mails
go to addresses that belong to no workspace yet and carry single-use secrets that must not be
stored. Password reset mails (accounts/password_flows.py) are sent the same way.
"""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction

logger = logging.getLogger(__name__)


def link(path: str, **query: str) -> str:
    """An absolute link to this service (SITE_URL) with a query string."""
    from urllib.parse import urlencode  # noqa: PLC0415

    url = f"{settings.SITE_URL.rstrip('/')}{path}"
    return f"{url}?{urlencode(query)}" if query else url


def send_on_commit(*, to: str, subject: str, body: str) -> None:
    """Mail `to` once the caller's transaction commits (nothing for a rollback). A failure to
    send is logged; the change it tells of has happened."""

    def send() -> None:
        try:
            send_mail(subject=subject, message=body, from_email=None, recipient_list=[to])
        except Exception:
            logger.exception("accounts mail: could not send %r", subject)

    transaction.on_commit(send)
