"""Secrets at rest: the encrypted field, key parsing, rotation, the development key file, and
production's refusal to start with weak or missing keys."""

import os
import stat
import subprocess
import sys
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connection

from ai.models import WorkspaceProviderKey
from config import crypto
from config.settings.base import BASE_DIR, DEVELOPMENT_SECRET_KEY

SECRET = "sk-live-abcdefghijklmnop-1234"


def _raw(row_id) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM ai_workspaceproviderkey WHERE id = %s", [row_id])
        return cursor.fetchone()[0]


def test_round_trip_and_each_encryption_differs(settings):
    one, two = crypto.encrypt(SECRET), crypto.encrypt(SECRET)
    assert one != two and SECRET not in one
    assert crypto.decrypt(one) == crypto.decrypt(two) == SECRET


def test_bad_keys_are_refused_by_position():
    good = Fernet.generate_key().decode()
    assert crypto.parse_keys(f" {good} ,") == [good]
    with pytest.raises(ImproperlyConfigured, match="key 2"):
        crypto.parse_keys([good, "not-a-fernet-key"])


def test_a_removed_key_is_a_clear_503_not_garbage(settings):
    token = crypto.encrypt(SECRET)
    settings.ENCRYPTION_KEY = [Fernet.generate_key().decode()]
    with pytest.raises(crypto.DecryptionFailed) as caught:
        crypto.decrypt(token)
    assert caught.value.status_code == 503


@pytest.mark.django_db
def test_rotate_command_re_encrypts_every_row_with_the_first_key(settings, workspace):
    old, new = settings.ENCRYPTION_KEY[0], Fernet.generate_key().decode()
    row = WorkspaceProviderKey.objects.create(
        workspace=workspace, provider="openai", api_key=SECRET
    )
    empty = WorkspaceProviderKey.objects.create(workspace=workspace, provider="gemini", api_key="")
    before = _raw(row.pk)

    settings.ENCRYPTION_KEY = [new, old]
    out = StringIO()
    call_command("rotate_encryption_key", stdout=out)

    after = _raw(row.pk)
    assert after != before
    assert Fernet(new.encode()).decrypt(after.encode()).decode() == SECRET
    assert _raw(empty.pk) == ""
    assert "ai.WorkspaceProviderKey.api_key: 1 re-encrypted" in out.getvalue()
    settings.ENCRYPTION_KEY = [new]  # the old key can go now
    assert WorkspaceProviderKey.objects.get(pk=row.pk).api_key == SECRET


@pytest.mark.django_db
def test_rotate_command_stops_on_a_secret_no_key_opens(settings, workspace):
    WorkspaceProviderKey.objects.create(workspace=workspace, provider="openai", api_key=SECRET)
    settings.ENCRYPTION_KEY = [Fernet.generate_key().decode()]
    with pytest.raises(CommandError, match="cannot be decrypted"):
        call_command("rotate_encryption_key", stdout=StringIO())


def test_generate_prints_a_usable_key():
    out = StringIO()
    call_command("rotate_encryption_key", "--generate", stdout=out)
    assert crypto.parse_keys(out.getvalue().strip())


def test_development_key_file_is_created_private_and_reused(tmp_path):
    path = tmp_path / "var" / "encryption.key"
    key = crypto.development_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert crypto.development_key(path) == key
    assert crypto.parse_keys(key) == [key]


def _production(**environ) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "ENCRYPTION_KEY")}
    env.update(environ, DJANGO_SETTINGS_MODULE="config.settings.production")
    return subprocess.run(  # noqa: S603
        [sys.executable, "-c", "import config.settings.production"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


STRONG_SECRET_KEY = "k" * 10 + "9f8Qz-" * 10
GOOD_ENCRYPTION_KEY = Fernet.generate_key().decode()


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"SECRET_KEY": "abc", "ENCRYPTION_KEY": GOOD_ENCRYPTION_KEY}, "too weak"),
        ({"SECRET_KEY": DEVELOPMENT_SECRET_KEY, "ENCRYPTION_KEY": GOOD_ENCRYPTION_KEY}, "Set SE"),
        ({"SECRET_KEY": "x" * 60, "ENCRYPTION_KEY": GOOD_ENCRYPTION_KEY}, "too weak"),
        ({"SECRET_KEY": STRONG_SECRET_KEY}, "Set ENCRYPTION_KEY"),
        ({"SECRET_KEY": STRONG_SECRET_KEY, "ENCRYPTION_KEY": "nope"}, "not a Fernet key"),
    ],
)
def test_production_refuses_to_start(environ, message):
    result = _production(**environ)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr
    for value in environ.values():
        if len(value) > 8:
            assert value not in result.stderr  # a refused key is never echoed


def test_production_starts_with_strong_keys():
    result = _production(SECRET_KEY=STRONG_SECRET_KEY, ENCRYPTION_KEY=GOOD_ENCRYPTION_KEY)
    assert result.returncode == 0, result.stderr
