"""Signals other apps may subscribe to (workflows imports none of them)."""

from django.dispatch import Signal

# Sent after a transaction of the engine commits, with that transaction's events, in order:
# kwargs `workspace_id` and `events` (a list of (event_type, payload) pairs, the same
# payloads published over WebSocket). Analytics counts its metrics and live figures from it.
engine_events_committed = Signal()
