"""Signals of analytics (notifications subscribes in its receivers.py; analytics imports none)."""

from django.dispatch import Signal

# Sent after a report's transaction commits: sender=Report, kwargs `report` (a Report).
report_ready = Signal()
