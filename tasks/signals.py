"""Signals of background tasks, for apps that react to outcomes (notifications' rules)."""

from django.dispatch import Signal

# Sent when a task ends failed or timed out (after its state is saved): data=event_data(task)
# plus "error".
task_finished = Signal()
