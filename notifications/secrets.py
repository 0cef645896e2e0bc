"""A channel's secrets (webhook URLs, tokens, the signing secret): JSON in `Channel.secret`,
an `EncryptedTextField` (Fernet at rest, config/crypto.py; rotated with `manage.py
rotate_encryption_key`). The only place that reads or writes that field."""

import json

from notifications.models import Channel


def read_secret(channel: Channel) -> dict:
    if not channel.secret:
        return {}
    try:
        value = json.loads(channel.secret)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def write_secret(channel: Channel, secrets: dict) -> None:
    channel.secret = json.dumps(secrets) if secrets else ""


def masked(value: str) -> str:
    """What an API answer may show of a secret: its last four characters."""
    return f"…{value[-4:]}" if value and len(value) > 8 else "…"
