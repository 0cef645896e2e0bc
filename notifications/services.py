"""The notifications app's verbs: send (one or bulk), retry a delivery, channels, the inbox
and preferences. Each write is one transaction; deliveries are handed to the workers and
announced on the workspace topic after it commits."""

import secrets as secrets_module
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.html import escape, linebreaks
from standardwebhooks.webhooks import Webhook

from accounts.models import Role, Workspace
from accounts.scoping import Actor, require_role
from notifications import dispatch, net, ratelimit, templating, vapid
from notifications.channels import push
from notifications.defaults import DEFAULT_TEMPLATES
from notifications.errors import (
    BulkInvalid,
    ChannelNotConfigured,
    DeliveryNotRetryable,
    IdempotencyConflict,
    InvalidNotification,
    NotificationNotFound,
    NotificationRateLimited,
    RecipientInvalid,
)
from notifications.models import (
    Channel,
    ChannelKind,
    Delivery,
    DeliveryStatus,
    EmailOptOut,
    InboxItem,
    Notification,
    NotificationTemplate,
    Preference,
    Priority,
    Rule,
)
from notifications.push_subscriptions import subscribe as subscribe_push  # noqa: F401
from notifications.push_subscriptions import unsubscribe as unsubscribe_push  # noqa: F401
from notifications.recipients import (
    PHONE,
    TOPIC,
    Target,
    address_of,
    apply_preferences,
    check_raw,
    user_reference,
)
from notifications.secrets import read_secret, write_secret

# Kinds that deliver to the configured channel's own URL (one delivery per channel).
CHANNEL_ADDRESSED = (ChannelKind.WEBHOOK, ChannelKind.SLACK, ChannelKind.TEAMS, ChannelKind.DISCORD)
NEEDS_CHANNEL = (ChannelKind.SMS, ChannelKind.WEBHOOK)


@dataclass
class Plan:
    """A validated notification, not yet written."""

    workspace: Workspace
    kind: str
    channel: Channel | None
    subject: str
    message: str
    html: str
    priority: str
    targets: list[Target]
    event: str = ""
    rule: Rule | None = None
    template_key: str = ""
    data: dict = field(default_factory=dict)
    idempotency_key: str | None = None


# --- Templates ----------------------------------------------------------------------------


def template_source(workspace: Workspace, key: str, kind: str) -> dict:
    """The workspace's template for (key, kind), else its (key, "any"), else the built-in."""
    rows = {
        t.channel: t
        for t in NotificationTemplate.objects.filter(
            workspace=workspace, key=key, channel__in=[kind, NotificationTemplate.ANY]
        )
    }
    row = rows.get(kind) or rows.get(NotificationTemplate.ANY)
    if row is not None:
        return {"subject": row.subject, "body": row.body, "html_body": row.html_body}
    if key in DEFAULT_TEMPLATES:
        return DEFAULT_TEMPLATES[key]
    raise InvalidNotification(
        f"No template named {key!r} in the workspace or the built-ins.",
        code="template_not_found",
        details={"template": key},
    )


def _content(workspace, kind, *, template, context, subject, message) -> tuple[str, str, str]:
    """(subject, text, html) from a template and context, or from the given text."""
    if template:
        source = template_source(workspace, template, kind)
        context = templating.plain_context(context or {})
        subject = templating.render(source["subject"], context, field="subject").strip()
        text = templating.render(source["body"], context, field="body")
        html = (
            templating.render(source["html_body"], context, html=True, field="html_body")
            if kind == ChannelKind.EMAIL and source.get("html_body")
            else ""
        )
    else:
        if not message:
            raise InvalidNotification(
                "A message (or a template) is required.", details={"message": ["required"]}
            )
        text = message
        html = ""
    if kind == ChannelKind.EMAIL and not html:
        html = linebreaks(escape(text))
    limit = settings.NOTIFICATIONS_MAX_MESSAGE_CHARS
    if len(text) > limit:
        raise InvalidNotification(
            f"The message is longer than {limit} characters.",
            code="message_too_long",
            details={"limit": limit, "length": len(text)},
        )
    return (subject or "")[:300], text, html


# --- Channels and recipients -------------------------------------------------------------


def _channel(workspace: Workspace, kind: str | None, channel_id: int | None) -> Channel | None:
    if channel_id is not None:
        channel = Channel.objects.filter(pk=channel_id, workspace=workspace).first()
        if channel is None:
            raise NotificationNotFound(
                "No channel with that id in the workspace.", details={"channel_id": channel_id}
            )
        if not channel.is_active:
            raise ChannelNotConfigured("That channel is disabled.")
        if kind and kind != channel.kind:
            raise InvalidNotification(
                f"The channel {channel_id} is a {channel.kind} channel, not {kind}.",
                details={"channel": kind, "channel_id": channel_id},
            )
        return channel
    if kind in (ChannelKind.IN_APP,):
        return None
    return Channel.objects.filter(workspace=workspace, kind=kind, is_active=True).first()


def _targets(
    workspace, kind, channel, recipients: list[str], *, raw_allowed: bool, event, priority
) -> list[Target]:
    config = dict(channel.config) if channel else {}
    if not recipients:
        if kind in CHANNEL_ADDRESSED and channel is not None:
            return [Target(recipient=channel.name)]
        if kind == ChannelKind.PUSH and channel is not None and config.get("topic"):
            return [Target(recipient=config["topic"])]
        raise RecipientInvalid("At least one recipient is required.", details={"recipient": []})
    if kind in NEEDS_CHANNEL and channel is None:
        raise ChannelNotConfigured(f"No active {kind} channel is configured in the workspace.")
    web_push = kind == ChannelKind.PUSH and push.provider_of(channel) == push.WEBPUSH
    if web_push:
        vapid.keys()  # ChannelNotConfigured when the server has no VAPID key
    targets: dict[str, Target] = {}
    for value in recipients:
        user = user_reference(value, workspace.pk)
        if user is not None:
            address = f"user:{user.pk}" if web_push else address_of(kind, user, config)
            target = Target(recipient=address, user=user)
        else:
            if web_push:
                raise RecipientInvalid(
                    "Web Push goes to workspace users (user:<id> or @username), to every "
                    "browser they subscribed.",
                    details={"recipient": value},
                )
            if not raw_allowed:
                raise RecipientInvalid(
                    "Sending to raw addresses needs the editor role or higher; name workspace "
                    "users as user:<id> or @username.",
                    code="permission_denied",
                    details={"recipient": value},
                )
            target = Target(recipient=check_raw(kind, value, has_channel=channel is not None))
        if kind in CHANNEL_ADDRESSED and channel is not None and targets:
            continue  # the channel's URL is the one destination
        targets.setdefault(target.recipient.lower(), target)
    limit = settings.NOTIFICATIONS_MAX_RECIPIENTS
    if len(targets) > limit:
        raise InvalidNotification(f"At most {limit} recipients per notification.")
    for target in targets.values():
        apply_preferences(
            target, kind=kind, event=event, priority=priority, workspace_id=workspace.pk
        )
    return list(targets.values())


def prepare(
    *,
    workspace: Workspace,
    channel: str | None = None,
    channel_id: int | None = None,
    recipients: list[str] | None = None,
    subject: str = "",
    message: str = "",
    template: str = "",
    context: dict | None = None,
    priority: str = Priority.NORMAL,
    idempotency_key: str | None = None,
    data: dict | None = None,
    raw_allowed: bool = True,
    event: str = "",
    rule: Rule | None = None,
    lookups: dict | None = None,
) -> Plan:
    """Validate one notification (no writes): the channel, recipients and content.
    `lookups` memoizes the channel lookups of a bulk request's items."""
    if channel is not None and channel not in ChannelKind.values:
        raise InvalidNotification(
            f"Unknown channel {channel!r}.",
            code="unknown_channel",
            details={"channel": channel, "choices": ChannelKind.values},
        )
    if channel is None and channel_id is None:
        raise InvalidNotification("A channel or channel_id is required.")
    lookups = {} if lookups is None else lookups
    if (channel, channel_id) not in lookups:
        lookups[(channel, channel_id)] = _channel(workspace, channel, channel_id)
    configured = lookups[(channel, channel_id)]
    kind = configured.kind if configured else channel
    targets = _targets(
        workspace,
        kind,
        configured,
        list(recipients or []),
        raw_allowed=raw_allowed,
        event=event,
        priority=priority,
    )
    subject, text, html = _content(
        workspace, kind, template=template, context=context, subject=subject, message=message
    )
    return Plan(
        workspace=workspace,
        kind=kind,
        channel=configured,
        subject=subject,
        message=text,
        html=html,
        priority=priority,
        targets=targets,
        event=event,
        rule=rule,
        template_key=template or "",
        data=templating.plain_context(data or {}),
        idempotency_key=idempotency_key or None,
    )


# --- Writing -----------------------------------------------------------------------------


def _existing(plan: Plan) -> Notification | None:
    if not plan.idempotency_key:
        return None
    found = Notification.objects.filter(
        workspace=plan.workspace, idempotency_key=plan.idempotency_key
    ).first()
    if found is None:
        return None
    if (found.channel_kind, found.subject, found.message) != (
        plan.kind,
        plan.subject,
        plan.message,
    ):
        raise IdempotencyConflict(details={"idempotency_key": plan.idempotency_key})
    found.created_now = False
    return found


def _take_allowance(plans: list[Plan], *, strict: bool) -> bool:
    """Spend the plans' sends from the rate limits (one take per channel); False (or raise,
    if strict) when over."""
    by_channel: dict[tuple, list[Plan]] = {}
    for plan in plans:
        by_channel.setdefault((plan.kind, plan.channel.pk if plan.channel else None), []).append(
            plan
        )
    for (kind, channel_id), group in by_channel.items():
        sendable = sum(1 for plan in group for t in plan.targets if not t.skip)
        if not sendable:
            continue
        channel = group[0].channel
        try:
            ratelimit.take(
                workspace_id=group[0].workspace.pk,
                kind=kind,
                channel_id=channel_id,
                limit=ratelimit.channel_limit(
                    kind, channel.rate_limit_per_minute if channel else None
                ),
                count=sendable,
            )
        except NotificationRateLimited:
            if strict:
                raise
            return False
    return True


_SKIP_REASONS = {
    "opted_out": "The address followed an opt-out link.",
    "preference": "The user's preferences leave this channel out for this event.",
}


def _write(plans: list[Plan], actor_user, *, allowed: bool) -> list[Notification]:
    """One INSERT for the notifications and one for their deliveries; the claimable ones go
    to the workers after commit."""
    now = timezone.now()
    notifications, rows = [], []
    for plan in plans:
        notification = Notification(
            workspace=plan.workspace,
            created_by=actor_user,
            channel_kind=plan.kind,
            channel=plan.channel,
            event=plan.event,
            rule=plan.rule,
            template_key=plan.template_key,
            subject=plan.subject,
            message=plan.message,
            html=plan.html,
            data=plan.data,
            priority=plan.priority,
            idempotency_key=plan.idempotency_key,
            created_at=now,
        )
        notification.created_now = True
        notification.delivery_rows = []
        for target in plan.targets:
            row = Delivery(
                notification=notification,
                workspace=plan.workspace,
                channel_kind=plan.kind,
                recipient=target.recipient,
                user=target.user,
                max_attempts=settings.NOTIFICATIONS_MAX_ATTEMPTS,
                next_attempt_at=target.not_before,
                created_at=now,
                updated_at=now,
            )
            if target.skip:
                row.status, row.error_code = DeliveryStatus.SKIPPED, target.skip
                row.error = _SKIP_REASONS.get(target.skip, target.skip)
            elif not allowed:
                row.status, row.error_code = DeliveryStatus.FAILED, "rate_limited"
                row.failed_at = now
                row.error = "The workspace or channel rate limit was reached; not sent."
            notification.delivery_rows.append(row)
            rows.append(row)
        notifications.append(notification)
    Notification.objects.bulk_create(notifications)
    Delivery.objects.bulk_create(rows)
    dispatch.on_commit(rows, priority_of={n.pk: n.priority for n in notifications})
    return notifications


def _actor_user(actor: Actor | None):
    return actor.user if actor is not None and actor.user.is_authenticated else None


def _raw_allowed(actor: Actor, workspace: Workspace) -> bool:
    role = require_role(actor, workspace, Role.VIEWER)
    from accounts.models import ROLE_RANK

    return ROLE_RANK[role] >= ROLE_RANK[Role.EDITOR]


def send_notification(*, actor: Actor, workspace: Workspace, **fields) -> Notification:
    """Validate, write the notification and one delivery per recipient, and queue them after
    commit. Raw addresses need the editor role; workspace users, any member."""
    raw_allowed = _raw_allowed(actor, workspace)
    plan = prepare(workspace=workspace, raw_allowed=raw_allowed, **fields)
    with transaction.atomic():
        if (existing := _existing(plan)) is not None:
            return existing
        _take_allowance([plan], strict=True)
        try:
            with transaction.atomic():
                return _write([plan], _actor_user(actor), allowed=True)[0]
        except IntegrityError:
            if (existing := _existing(plan)) is not None:  # a concurrent twin won
                return existing
            raise


def bulk_send(*, actor: Actor, workspace: Workspace, items: list[dict]) -> list[Notification]:
    """All or nothing: every item is validated first; a bad one is named by its index."""
    limit = settings.NOTIFICATIONS_BULK_LIMIT
    if len(items) > limit:
        raise InvalidNotification(
            f"At most {limit} notifications per bulk request.",
            code="bulk_limit_exceeded",
            details={"limit": limit, "count": len(items)},
        )
    raw_allowed = _raw_allowed(actor, workspace)
    plans, lookups = [], {}
    for index, item in enumerate(items):
        try:
            plans.append(
                prepare(workspace=workspace, raw_allowed=raw_allowed, lookups=lookups, **item)
            )
        except InvalidNotification as exc:
            raise BulkInvalid(
                f"Item {index}: {exc.message}",
                details={"index": index, "code": exc.code, "details": exc.details},
            ) from exc
        except NotificationNotFound as exc:
            raise BulkInvalid(
                f"Item {index}: {exc.message}",
                details={"index": index, "code": exc.code, "details": exc.details},
            ) from exc
    keys = [p.idempotency_key for p in plans if p.idempotency_key]
    if len(keys) != len(set(keys)):
        raise BulkInvalid("Two items share an idempotency key.")
    with transaction.atomic():
        found = {index: _existing(plan) for index, plan in enumerate(plans) if plan.idempotency_key}
        new = [plan for index, plan in enumerate(plans) if found.get(index) is None]
        _take_allowance(new, strict=True)
        written = iter(_write(new, _actor_user(actor), allowed=True))
        return [found.get(index) or next(written) for index in range(len(plans))]


def send_system(plan: Plan) -> Notification:
    """A notification the product sends itself (rules): over the rate limit, its deliveries
    are recorded as failed (`rate_limited`) instead of raising."""
    with transaction.atomic():
        allowed = _take_allowance([plan], strict=False)
        return _write([plan], None, allowed=allowed)[0]


@transaction.atomic
def retry_delivery(*, actor: Actor | None, delivery: Delivery) -> Delivery:
    """A failed delivery goes back to the queue with a fresh set of attempts."""
    if actor is not None:
        require_role(actor, delivery.workspace_id, Role.EDITOR)
    updated = Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.FAILED).update(
        status=DeliveryStatus.QUEUED,
        next_attempt_at=None,
        max_attempts=delivery.attempts + settings.NOTIFICATIONS_MAX_ATTEMPTS,
        error="",
        error_code="",
        failed_at=None,
        updated_at=timezone.now(),
    )
    if not updated:
        raise DeliveryNotRetryable(details={"status": delivery.status})
    delivery.refresh_from_db()
    dispatch.on_commit(
        [delivery], priority_of={delivery.notification_id: delivery.notification.priority}
    )
    return delivery


# --- Channels ----------------------------------------------------------------------------


def _required(values: dict, name: str, where: str) -> str:
    value = values.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidNotification(
            f"{where}.{name} is required.", details={where: {name: "required"}}
        )
    return value.strip()


def _channel_fields(kind: str, config: dict, secrets: dict) -> tuple[dict, dict, dict]:
    """(config, secrets, shown once) for a channel kind, validated."""
    config, secrets = dict(config or {}), dict(secrets or {})
    shown: dict = {}
    if kind == ChannelKind.EMAIL:
        if config.get("from_email"):
            try:
                validate_email(str(config["from_email"]))
            except ValidationError:
                raise InvalidNotification("config.from_email is not an email address.") from None
        return {k: config[k] for k in ("from_email",) if k in config}, {}, shown
    if kind == ChannelKind.SMS:
        clean = {
            "account_sid": _required(config, "account_sid", "config"),
            "from_number": _required(config, "from_number", "config"),
        }
        if not PHONE.match(clean["from_number"]):
            raise RecipientInvalid("config.from_number is not an E.164 phone number.")
        if config.get("base_url"):
            clean["base_url"] = net.check_url(config["base_url"])
        return clean, {"auth_token": _required(secrets, "auth_token", "secrets")}, shown
    if kind == ChannelKind.PUSH and config.get("provider") == push.WEBPUSH:
        vapid.keys()  # ChannelNotConfigured when the server has no VAPID key
        return {"provider": push.WEBPUSH}, {}, shown
    if kind == ChannelKind.PUSH:
        if config.get("provider", push.NTFY) not in push.PROVIDERS:
            raise InvalidNotification(
                "config.provider must be ntfy or webpush.",
                details={"config": {"provider": list(push.PROVIDERS)}},
            )
        clean = {"server_url": net.check_url(config.get("server_url") or "https://ntfy.sh")}
        topic = _required(config, "topic", "config")
        if not TOPIC.match(topic):
            raise InvalidNotification("config.topic is not an ntfy topic ([A-Za-z0-9_-]).")
        clean["topic"] = topic
        return clean, {"token": secrets["token"]} if secrets.get("token") else {}, shown
    if kind == ChannelKind.WEBHOOK:
        url = net.check_url(_required(config, "url", "config"))
        signing = secrets.get("signing_secret") or "whsec_" + _b64(secrets_module.token_bytes(32))
        try:
            Webhook(signing)
        except Exception:
            raise InvalidNotification(
                "secrets.signing_secret must be a whsec_ secret (base64 after the prefix)."
            ) from None
        shown["signing_secret"] = signing
        return {"url": url}, {"signing_secret": signing}, shown
    if kind in (ChannelKind.SLACK, ChannelKind.TEAMS, ChannelKind.DISCORD):
        url = net.check_url(_required(secrets, "url", "secrets"))
        return {}, {"url": url}, shown
    return {}, {}, shown


def _b64(raw: bytes) -> str:
    import base64

    return base64.b64encode(raw).decode()


@transaction.atomic
def create_channel(
    *,
    actor: Actor,
    workspace: Workspace,
    kind: str,
    name: str,
    config: dict | None = None,
    secrets: dict | None = None,
    is_active: bool = True,
    rate_limit_per_minute: int | None = None,
) -> Channel:
    """Admins configure channels. `channel.shown_once` holds the secrets generated for the
    caller (a webhook's signing secret): the one time they are shown."""
    require_role(actor, workspace, Role.ADMIN)
    clean_config, clean_secrets, shown = _channel_fields(kind, config or {}, secrets or {})
    if Channel.objects.filter(workspace=workspace, name=name).exists():
        raise InvalidNotification(
            f"A channel named {name!r} already exists.", code="duplicate_name"
        )
    channel = Channel(
        workspace=workspace,
        kind=kind,
        name=name,
        config=clean_config,
        is_active=is_active,
        rate_limit_per_minute=rate_limit_per_minute,
        created_by=_actor_user(actor),
    )
    write_secret(channel, clean_secrets)
    channel.save()
    channel.shown_once = shown
    return channel


@transaction.atomic
def update_channel(
    *,
    actor: Actor,
    channel: Channel,
    name: str | None = None,
    config: dict | None = None,
    secrets: dict | None = None,
    is_active: bool | None = None,
    rate_limit_per_minute: int | None = None,
    rotate_secret: bool = False,
) -> Channel:
    require_role(actor, channel.workspace_id, Role.ADMIN)
    if config is not None or secrets is not None or rotate_secret:
        current = read_secret(channel)
        merged = {**current, **(secrets or {})}
        if rotate_secret:
            merged.pop("signing_secret", None)
        clean_config, clean_secrets, shown = _channel_fields(
            channel.kind, {**channel.config, **(config or {})}, merged
        )
        channel.config = clean_config
        write_secret(channel, clean_secrets)
        channel.shown_once = shown if rotate_secret else {}
    if name is not None:
        if (
            Channel.objects.filter(workspace_id=channel.workspace_id, name=name)
            .exclude(pk=channel.pk)
            .exists()
        ):
            raise InvalidNotification(
                f"A channel named {name!r} already exists.", code="duplicate_name"
            )
        channel.name = name
    if is_active is not None:
        channel.is_active = is_active
    if rate_limit_per_minute is not None:
        channel.rate_limit_per_minute = rate_limit_per_minute or None
    channel.save()
    return channel


@transaction.atomic
def delete_channel(*, actor: Actor, channel: Channel) -> None:
    require_role(actor, channel.workspace_id, Role.ADMIN)
    channel.delete()


# --- Inbox and preferences ----------------------------------------------------------------


@transaction.atomic
def mark_read(*, user, item: InboxItem) -> InboxItem:
    if item.read_at is None:
        item.read_at = timezone.now()
        item.save(update_fields=["read_at"])
    return item


@transaction.atomic
def mark_all_read(*, user, workspace_id: int | None = None) -> int:
    rows = InboxItem.objects.filter(user=user, read_at__isnull=True)
    if workspace_id is not None:
        rows = rows.filter(workspace_id=workspace_id)
    return rows.update(read_at=timezone.now())


@transaction.atomic
def update_preferences(*, user, **fields) -> Preference:
    preference, _ = Preference.objects.get_or_create(user=user)
    for name, value in fields.items():
        setattr(preference, name, value)
    preference.save()
    return preference


@transaction.atomic
def opt_out(*, workspace_id: int, address: str) -> EmailOptOut:
    row, _ = EmailOptOut.objects.get_or_create(workspace_id=workspace_id, address=address.lower())
    return row
