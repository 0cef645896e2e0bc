"""Account lockout with django-axes, on every login path (JWT, browsable API, admin).

axes counts failures per username and per username+IP (AXES_LOCKOUT_PARAMETERS) and refuses
a locked account even with the right password. Two things are ours: the answer (429 with
Retry-After, in the API's error shape or as a small page for browser forms, where axes
would answer 401 under DRF: it flags DRF's request wrapper, which its middleware never reads)
and the unlock verb for admins.
"""

import math

from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from axes.utils import reset
from django.conf import settings
from django.db.models import Max
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone

from audit.services import record_security_event
from config.api.exceptions import error_response

LOCKED_MESSAGE = "Too many failed logins: this account is locked for a while."


def is_locked_out(request) -> bool:
    """Whether axes refused this request's login (it flags the object it was given)."""
    return bool(
        getattr(request, "axes_locked_out", False)
        or getattr(getattr(request, "_request", None), "axes_locked_out", False)
    )


def retry_after_seconds(username: str | None) -> int:
    """Seconds until the lock on `username` lifts (the whole cool-off when unknown)."""
    cool_off = get_cool_off()
    total = cool_off.total_seconds() if cool_off else 3600
    if username:
        last = AccessAttempt.objects.filter(username=username).aggregate(last=Max("attempt_time"))
        if last["last"] is not None:
            remaining = (last["last"] + cool_off - timezone.now()).total_seconds()
            if remaining > 0:
                return max(1, math.ceil(remaining))
    return max(1, math.ceil(total))


def _username(request, credentials) -> str:
    if isinstance(credentials, dict):
        return str(credentials.get("username") or "")
    return str(getattr(request, "POST", {}).get("username", ""))


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: 429 + Retry-After. A browser form (the admin, the browsable
    API's login) gets a page; everything else the API's error shape."""
    if credentials is None and isinstance(original_response, dict):
        credentials = original_response  # axes' async middleware passes them second
    retry_after = retry_after_seconds(_username(request, credentials))
    headers = {"Retry-After": str(retry_after)}
    if "text/html" in request.headers.get("Accept", ""):
        page = render_to_string(
            "security/locked_out.html", {"retry_minutes": math.ceil(retry_after / 60)}
        )
        return HttpResponse(page, status=429, headers=headers)
    return error_response(
        429,
        "account_locked",
        LOCKED_MESSAGE,
        {"retry_after_seconds": retry_after},
        headers=headers,
    )


def lockout_rows() -> list[dict]:
    """Usernames with failures on record: how many, the last, and whether they are locked."""
    cool_off = get_cool_off()
    now = timezone.now()
    rows = (
        AccessAttempt.objects.exclude(username__isnull=True)
        .values("username")
        .annotate(last_failure=Max("attempt_time"), failures=Max("failures_since_start"))
        .order_by("-last_failure")[:500]
    )
    return [
        {
            **row,
            "locked": row["failures"] >= settings.AXES_FAILURE_LIMIT
            and (cool_off is None or row["last_failure"] + cool_off > now),
        }
        for row in rows
    ]


def unlock(*, request=None, actor=None, username: str) -> int:
    """Clear the failures of `username` (every IP): the account can log in again at once."""
    removed = reset(username=username)
    record_security_event(
        "auth.unlocked",
        request=request,
        actor=actor,
        username=username,
        details={"attempts_cleared": removed},
    )
    return removed


def _on_locked_out(sender, request=None, username=None, ip_address=None, **kwargs) -> None:
    record_security_event(
        "auth.locked_out",
        request=request,
        username=username or "",
        details={"ip": ip_address} if ip_address else {},
    )


def install() -> None:
    from axes.signals import user_locked_out  # noqa: PLC0415

    user_locked_out.connect(_on_locked_out, dispatch_uid="accounts.lockout.locked_out")
