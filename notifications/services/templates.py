"""Workspace templates (editors and up): subject, text body and HTML body in the sandboxed
template language, one per (key, channel or "any"). Each verb is one transaction."""

import copy

from django.db import transaction

from accounts.models import Role, Workspace
from accounts.scoping import Actor, require_role
from notifications import templating
from notifications.errors import InvalidNotification
from notifications.models import TEMPLATE_CHANNEL_CHOICES, NotificationTemplate

TEMPLATE_FIELDS = ("key", "channel", "subject", "body", "html_body")
CHANNELS = {value for value, _ in TEMPLATE_CHANNEL_CHOICES}


def check_template(template: NotificationTemplate) -> None:
    """Raise the domain error for a template that may not be saved: an unknown channel, a
    source that does not parse or uses a forbidden tag, a (key, channel) already taken."""
    if template.channel not in CHANNELS:
        raise InvalidNotification(
            f"Unknown channel {template.channel!r} for a template.",
            details={"channel": sorted(CHANNELS)},
        )
    if not template.body:
        raise InvalidNotification("A template needs a body.", details={"body": ["required"]})
    for source in (template.subject, template.body, template.html_body):
        templating.check(source)
    clash = NotificationTemplate.objects.filter(
        workspace_id=template.workspace_id, key=template.key, channel=template.channel
    )
    if template.pk is not None:
        clash = clash.exclude(pk=template.pk)
    if clash.exists():
        raise InvalidNotification(
            f"A template {template.key!r} for {template.channel} already exists in the workspace.",
            details={"key": [f"{template.key!r} for {template.channel} exists"]},
        )


@transaction.atomic
def create_template(
    *,
    actor: Actor,
    workspace: Workspace,
    key: str,
    body: str,
    channel: str = NotificationTemplate.ANY,
    subject: str = "",
    html_body: str = "",
) -> NotificationTemplate:
    require_role(actor, workspace, Role.EDITOR)
    template = NotificationTemplate(
        workspace=workspace,
        key=key,
        channel=channel,
        subject=subject,
        body=body,
        html_body=html_body,
    )
    check_template(template)
    template.save()
    return template


@transaction.atomic
def update_template(
    *, actor: Actor, template: NotificationTemplate, **fields
) -> NotificationTemplate:
    """Change any of key, channel, subject, body, html_body; a template stays in its
    workspace."""
    require_role(actor, template.workspace_id, Role.EDITOR)
    unknown = set(fields) - set(TEMPLATE_FIELDS)
    if unknown:
        raise InvalidNotification(f"Unknown template fields: {', '.join(sorted(unknown))}.")
    template = copy.copy(template)  # the caller's instance stays as it was if the change is refused
    for name, value in fields.items():
        setattr(template, name, value)
    check_template(template)
    template.save()
    return template


@transaction.atomic
def delete_template(*, actor: Actor, template: NotificationTemplate) -> None:
    require_role(actor, template.workspace_id, Role.EDITOR)
    template.delete()
