"""Every write of the notifications app (STYLE.md: services for writes, selectors for reads).
Views, tasks, rules, commands and the admin call these; each checks the caller's role where
there is a caller, runs in one transaction and raises the domain errors of
`notifications.errors`.

The verbs live beside what they change and are re-exported here:
- planning.py: validate a notification (channel, recipients, preferences, content), no writes;
- sending.py: write the notification and its deliveries, send, bulk, system sends, retries;
- channel_config.py: configured channels and their (encrypted) secrets;
- templates.py, rule_config.py: workspace templates and rules;
- inbox.py: the in-app inbox, preferences, opt-outs;
- push_subscriptions.py: browsers' Web Push subscriptions.
"""

from notifications.services.channel_config import create_channel, delete_channel, update_channel
from notifications.services.inbox import mark_all_read, mark_read, opt_out, update_preferences
from notifications.services.planning import Plan, prepare, template_source
from notifications.services.push_subscriptions import subscribe as subscribe_push
from notifications.services.push_subscriptions import unsubscribe as unsubscribe_push
from notifications.services.rule_config import create_rule, delete_rule, update_rule
from notifications.services.sending import (
    bulk_send,
    retry_delivery,
    send_notification,
    send_system,
)
from notifications.services.templates import create_template, delete_template, update_template

__all__ = [
    "Plan",
    "bulk_send",
    "create_channel",
    "create_rule",
    "create_template",
    "delete_channel",
    "delete_rule",
    "delete_template",
    "mark_all_read",
    "mark_read",
    "opt_out",
    "prepare",
    "retry_delivery",
    "send_notification",
    "send_system",
    "subscribe_push",
    "template_source",
    "unsubscribe_push",
    "update_channel",
    "update_preferences",
    "update_rule",
    "update_template",
]
