"""Signals other apps subscribe to (notifications hands alerts on to people)."""

from django.dispatch import Signal

# Sent after the alert's transaction commits: sender=SecurityAlert, alert=<SecurityAlert>.
security_alert_raised = Signal()
