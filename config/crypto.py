"""Secrets that must be read back (provider keys, channel secrets, MFA keys), encrypted at rest.

One model field, `EncryptedTextField`, stores a Fernet token; the keys come from the
`ENCRYPTION_KEY` setting (a list: the first encrypts, every one decrypts, so a new key can be
put in front and `manage.py rotate_encryption_key` re-encrypts every row with it). The keys
are independent of `SECRET_KEY`. Any app may import this module: it imports no app.

Encrypted columns cannot be filtered or ordered on (each encryption of a value differs).
"""

import logging
import os
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

from config.errors import DomainError

logger = logging.getLogger(__name__)


class DecryptionFailed(DomainError):
    """A stored secret that none of the configured keys opens: the operator removed a key
    that is still in use. A server fault, not the caller's."""

    status_code = 503
    code = "encryption_key_missing"
    default_message = (
        "A stored secret cannot be decrypted with the configured ENCRYPTION_KEY; "
        "the key that encrypted it was removed."
    )


def generate_key() -> str:
    return Fernet.generate_key().decode()


def parse_keys(raw: list[str] | tuple[str, ...] | str) -> list[str]:
    """The keys of an `ENCRYPTION_KEY` value (a list, or a comma-separated string), each
    checked to be a Fernet key; raises ImproperlyConfigured naming the bad one's position."""
    if isinstance(raw, str):
        raw = raw.split(",")
    keys = [key.strip() for key in raw if key.strip()]
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            raise ImproperlyConfigured(
                f"ENCRYPTION_KEY: key {position} is not a Fernet key (32 url-safe base64 "
                "bytes); make one with `python manage.py rotate_encryption_key --generate`."
            ) from None
    return keys


def development_key(path: Path) -> str:
    """The key in `path`, created (readable by its owner only) when missing: development
    without ENCRYPTION_KEY keeps working across restarts. Production refuses instead."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = generate_key()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key + "\n")
    return key


@lru_cache(maxsize=4)
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def fernet() -> MultiFernet:
    keys = tuple(parse_keys(settings.ENCRYPTION_KEY))
    if not keys:
        raise ImproperlyConfigured("ENCRYPTION_KEY is not set: secrets cannot be stored.")
    return _fernet_for(keys)


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise DecryptionFailed() from None


def rotate(token: str) -> str:
    """The same secret, encrypted with the first key (decrypted with any)."""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise DecryptionFailed() from None


def last4(secret: str) -> str:
    """What may be shown of a secret: its last four characters (none of a short one)."""
    return secret[-4:] if len(secret) >= 12 else ""


class EncryptedTextField(models.TextField):
    """Text kept as a Fernet token in the database and as plain text on the instance.

    An empty string stays empty (no secret), so `blank=True` fields need no ciphertext.
    """

    description = "Text encrypted at rest with ENCRYPTION_KEY"

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(value)

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return decrypt(value)


def encrypted_fields() -> list[tuple[type[models.Model], EncryptedTextField]]:
    """Every (model, field) of the project that stores an encrypted secret."""
    from django.apps import apps  # noqa: PLC0415 - after the app registry is ready

    return [
        (model, field)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, EncryptedTextField)
    ]
