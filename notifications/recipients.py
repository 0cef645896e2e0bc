"""Who a notification goes to: workspace users (by `user:<id>` or `@username`, their
preferences apply) or raw addresses, checked per channel kind."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone

from accounts.models import Membership, User
from notifications import net
from notifications.errors import RecipientInvalid
from notifications.models import ChannelKind, EmailOptOut, Preference, Priority

PHONE = re.compile(r"^\+[1-9]\d{6,14}$")  # E.164
TOPIC = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # an ntfy topic
USER_ID = re.compile(r"^user:(\d{1,18})$")
URL_KINDS = (ChannelKind.SLACK, ChannelKind.TEAMS, ChannelKind.DISCORD, ChannelKind.PUSH)


@dataclass
class Target:
    recipient: str
    user: User | None = None
    skip: str = ""  # why it is not sent: "preference", "opted_out"
    not_before: datetime | None = None  # quiet hours


def user_reference(value: str, workspace_id: int) -> User | None:
    """The workspace member `value` names, None when it names no user, RecipientInvalid when
    it names someone outside the workspace."""
    if match := USER_ID.match(value):
        lookup = {"user_id": int(match.group(1))}
    elif value.startswith("@") and len(value) > 1:
        lookup = {"user__username": value[1:]}
    else:
        return None
    membership = (
        Membership.objects.select_related("user")
        .filter(workspace_id=workspace_id, user__is_active=True, **lookup)
        .first()
    )
    if membership is None:
        raise RecipientInvalid(
            f"{value} is not a member of the workspace.", details={"recipient": value}
        )
    return membership.user


def check_raw(kind: str, value: str, *, has_channel: bool) -> str:
    """A raw address for `kind`, normalized, or RecipientInvalid."""
    value = value.strip()
    if kind == ChannelKind.EMAIL:
        try:
            validate_email(value)
        except ValidationError:
            raise RecipientInvalid(
                f"{value!r} is not an email address.", details={"recipient": value}
            ) from None
        return value
    if kind == ChannelKind.SMS:
        if not PHONE.match(value):
            raise RecipientInvalid(
                f"{value!r} is not a phone number in E.164 form (+14155550123).",
                details={"recipient": value},
            )
        return value
    if kind == ChannelKind.IN_APP:
        raise RecipientInvalid(
            "In-app notifications go to workspace users (user:<id> or @username).",
            details={"recipient": value},
        )
    if kind == ChannelKind.PUSH and has_channel:
        if not TOPIC.match(value):
            raise RecipientInvalid(f"{value!r} is not an ntfy topic.", details={"recipient": value})
        return value
    if kind in (ChannelKind.SLACK, ChannelKind.TEAMS, ChannelKind.DISCORD) and not has_channel:
        return net.check_url(value)
    if has_channel:  # webhook-like kinds deliver to the channel; the recipient is a label
        return value[:200]
    raise RecipientInvalid(f"A {kind} notification needs a configured channel.")


def address_of(kind: str, user: User, channel_config: dict) -> str:
    """Where a user receives `kind`: their email, phone (from preferences), the channel's
    topic or URL (webhook-like kinds), or their id (in-app)."""
    if kind == ChannelKind.EMAIL:
        if not user.email:
            raise RecipientInvalid(f"@{user.username} has no email address.")
        return user.email
    if kind == ChannelKind.SMS:
        phone = Preference.objects.filter(user=user).values_list("phone", flat=True).first()
        if not phone:
            raise RecipientInvalid(f"@{user.username} has no phone number in their preferences.")
        return phone
    if kind == ChannelKind.PUSH:
        return channel_config.get("topic", "")
    if kind == ChannelKind.IN_APP:
        return f"user:{user.pk}"
    return f"@{user.username}"


def _zone(name: str):
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def quiet_until(preference: Preference, now: datetime) -> datetime | None:
    """The end of the quiet hours `now` falls in, or None."""
    start, end = preference.quiet_hours_start, preference.quiet_hours_end
    if start is None or end is None or start == end:
        return None
    local = now.astimezone(_zone(preference.timezone))
    t = local.time()
    inside = start <= t < end if start < end else (t >= start or t < end)
    if not inside:
        return None
    until = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if until <= local:
        until += timedelta(days=1)
    return until.astimezone(UTC)


def apply_preferences(target: Target, *, kind: str, event: str, priority: str, workspace_id: int):
    """Mark `target` skipped or delayed by its user's preferences and opt-outs."""
    if (
        kind == ChannelKind.EMAIL
        and EmailOptOut.objects.filter(
            workspace_id=workspace_id, address__iexact=target.recipient
        ).exists()
    ):
        target.skip = "opted_out"
        return
    if target.user is None:
        return
    preference = Preference.objects.filter(user=target.user).first()
    if preference is None:
        return
    chosen = preference.channels_by_event.get(event or "default")
    if chosen is None:
        chosen = preference.channels_by_event.get("default")
    if isinstance(chosen, list) and kind not in chosen:
        target.skip = "preference"
        return
    if priority != Priority.HIGH:
        target.not_before = quiet_until(preference, timezone.now())
