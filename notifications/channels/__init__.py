"""One module per channel kind, each with `send(delivery) -> DeliveryResult`."""

from importlib import import_module

from notifications.channels.base import DeliveryResult

__all__ = ["DeliveryResult", "sender_for"]

_MODULES = {
    "email": "email",
    "sms": "sms",
    "push": "push",
    "webhook": "webhook",
    "slack": "slack",
    "teams": "teams",
    "discord": "discord",
    "in_app": "in_app",
}


def sender_for(kind: str):
    """The `send` function of a channel kind."""
    return import_module(f"notifications.channels.{_MODULES[kind]}").send
