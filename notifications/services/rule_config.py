"""Rules (editors and up): "when this event happens in the workspace, notify these recipients
on that channel". Each verb is one transaction and checks what the rule names belongs to its
workspace: the channel, the workflow, the template, the recipients."""

import copy

from django.db import transaction

from accounts.models import Role, Workspace
from accounts.scoping import Actor, require_role
from notifications import recipients as recipient_rules
from notifications.defaults import DEFAULT_TEMPLATES
from notifications.errors import InvalidNotification
from notifications.models import (
    Channel,
    ChannelKind,
    EventType,
    NotificationTemplate,
    Priority,
    Rule,
)
from notifications.services.planning import actor_user

RULE_FIELDS = (
    "name",
    "event",
    "channel",
    "channel_kind",
    "recipients",
    "template",
    "priority",
    "workflow",
    "is_active",
)


def _invalid(field: str, message: str) -> InvalidNotification:
    return InvalidNotification(message, details={field: [message]})


def check_rule(rule: Rule, *, kind_given: bool) -> None:
    """Raise the domain error for a rule that may not be saved. A rule's channel decides its
    kind (a different kind given with it is refused); without a channel the kind is needed."""
    workspace_id = rule.workspace_id
    if rule.event not in EventType.values:
        raise _invalid("event", f"Unknown event {rule.event!r}.")
    if rule.priority not in Priority.values:
        raise _invalid("priority", f"Unknown priority {rule.priority!r}.")
    channel: Channel | None = rule.channel
    if channel is not None:
        if channel.workspace_id != workspace_id:
            raise _invalid("channel", "No channel with that id in the workspace.")
        if kind_given and rule.channel_kind and rule.channel_kind != channel.kind:
            raise _invalid("channel_kind", f"The channel is a {channel.kind} channel.")
        rule.channel_kind = channel.kind
    if not rule.channel_kind:
        raise _invalid("channel_kind", "A channel or channel_kind is required.")
    if rule.channel_kind not in ChannelKind.values:
        raise _invalid("channel_kind", f"Unknown channel kind {rule.channel_kind!r}.")
    if rule.workflow is not None and rule.workflow.workspace_id != workspace_id:
        raise _invalid("workflow", "No workflow with that id in the workspace.")
    if (
        rule.template
        and rule.template not in DEFAULT_TEMPLATES
        and not NotificationTemplate.objects.filter(
            workspace_id=workspace_id, key=rule.template
        ).exists()
    ):
        raise _invalid("template", f"No template named {rule.template!r}.")
    if not isinstance(rule.recipients, list) or len(rule.recipients) > 100:
        raise _invalid("recipients", "At most 100 recipients, as a list.")
    for value in rule.recipients:
        if recipient_rules.user_reference(value, workspace_id) is None:
            recipient_rules.check_raw(rule.channel_kind, value, has_channel=channel is not None)


@transaction.atomic
def create_rule(
    *,
    actor: Actor,
    workspace: Workspace,
    name: str,
    event: str,
    channel: Channel | None = None,
    channel_kind: str = "",
    recipients: list[str] | None = None,
    template: str = "",
    priority: str = Priority.NORMAL,
    workflow=None,
    is_active: bool = True,
) -> Rule:
    require_role(actor, workspace, Role.EDITOR)
    rule = Rule(
        workspace=workspace,
        name=name,
        event=event,
        channel=channel,
        channel_kind=channel_kind or "",
        recipients=list(recipients or []),
        template=template or "",
        priority=priority,
        workflow=workflow,
        is_active=is_active,
        created_by=actor_user(actor),
    )
    check_rule(rule, kind_given=bool(channel_kind))
    rule.save()
    return rule


@transaction.atomic
def update_rule(*, actor: Actor, rule: Rule, **fields) -> Rule:
    """Change any of the rule's fields; a rule stays in its workspace."""
    require_role(actor, rule.workspace_id, Role.EDITOR)
    unknown = set(fields) - set(RULE_FIELDS)
    if unknown:
        raise InvalidNotification(f"Unknown rule fields: {', '.join(sorted(unknown))}.")
    rule = copy.copy(rule)  # the caller's instance stays as it was if the change is refused
    for name, value in fields.items():
        setattr(rule, name, value)
    check_rule(rule, kind_given="channel_kind" in fields)
    rule.save()
    return rule


@transaction.atomic
def delete_rule(*, actor: Actor, rule: Rule) -> None:
    require_role(actor, rule.workspace_id, Role.EDITOR)
    rule.delete()
