"""Signals of the engine, for apps that react to runs (notifications' rules)."""

from django.dispatch import Signal

# Sent after the transaction that changed a run commits, once per run.* event:
# event="run.failed" | "run.succeeded" | "run.waiting" | ..., data=run_payload(run).
run_event = Signal()
