"""Planning a notification (no writes): the channel, the recipients and their preferences,
and the content rendered from a template or given as text, checked against the limits."""

from dataclasses import dataclass, field

from django.conf import settings
from django.utils.html import escape, linebreaks

from accounts.models import Workspace
from accounts.scoping import Actor
from notifications import templating, vapid
from notifications.channels import push
from notifications.defaults import DEFAULT_TEMPLATES
from notifications.errors import (
    ChannelNotConfigured,
    InvalidNotification,
    NotificationNotFound,
    RecipientInvalid,
)
from notifications.models import (
    Channel,
    ChannelKind,
    NotificationTemplate,
    Priority,
    Rule,
)
from notifications.recipients import (
    Target,
    address_of,
    apply_preferences,
    check_raw,
    user_reference,
)

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


def actor_user(actor: Actor | None):
    """The user acting, or None (the system, an anonymous caller)."""
    return actor.user if actor is not None and actor.user.is_authenticated else None
