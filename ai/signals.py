"""Signals of the AI gateway, for apps that watch spend (notifications' budget alerts)."""

from django.dispatch import Signal

# Sent when usage records are saved (inside the caller's transaction: receivers that act
# wait for it to commit): workspace_ids=[...] of the records.
usage_recorded = Signal()
