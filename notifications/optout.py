"""Email opt-out links: a signed token of (workspace, address), no expiry, that anyone with
the email may use once to stop that workspace's email to the address."""

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "notifications.opt-out"


def make_token(*, workspace_id: int, address: str) -> str:
    return signing.dumps({"w": workspace_id, "a": address.lower()}, salt=SALT, compress=True)


def read_token(token: str) -> tuple[int, str] | None:
    try:
        data = signing.loads(token, salt=SALT)
        return int(data["w"]), str(data["a"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


def opt_out_url(*, workspace_id: int, address: str) -> str:
    path = reverse("notifications-opt-out")
    token = make_token(workspace_id=workspace_id, address=address)
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}{path}?token={token}"
