"""Channel secrets at rest: the column holds a Fernet token, never the secret; answers show
it masked (a webhook's signing secret once, when created or rotated); the key rotation
command re-encrypts channels; the migration encrypts plain rows and reverses."""

import importlib
import json
from io import StringIO
from types import SimpleNamespace

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from config import crypto
from notifications.models import Channel

pytestmark = pytest.mark.django_db

SLACK_URL = "https://hooks.slack.com/services/T000/B000/SLACKsecretTAIL"
CHANNELS = "/api/v3/notifications/channels/"

migration = importlib.import_module("notifications.migrations.0002_encrypt_channel_secrets")


def _raw(pk) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM notifications_channel WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def _create(api, workspace, **body):
    response = api.post(CHANNELS, {"workspace": workspace.pk, **body}, format="json")
    assert response.status_code == 201, response.content
    return response


def test_the_column_holds_ciphertext_and_the_model_reads_the_secret(alice_api, workspace):
    made = _create(alice_api, workspace, kind="slack", name="ops", secrets={"url": SLACK_URL})
    raw = _raw(made.json()["id"])
    assert raw and "SLACKsecret" not in raw and "hooks.slack.com" not in raw
    assert json.loads(crypto.decrypt(raw)) == {"url": SLACK_URL}
    assert json.loads(Channel.objects.get(pk=made.json()["id"]).secret) == {"url": SLACK_URL}


def test_the_api_never_returns_a_secret_and_the_signing_secret_only_once(alice_api, workspace):
    made = _create(
        alice_api,
        workspace,
        kind="webhook",
        name="hook",
        config={"url": "https://receiver.example/hook"},
    ).json()
    signing = made["secrets_shown_once"]["signing_secret"]
    assert signing.startswith("whsec_")
    assert signing not in _raw(made["id"])
    detail = f"{CHANNELS}{made['id']}/"
    for answer in (alice_api.get(CHANNELS), alice_api.get(detail)):
        assert answer.status_code == 200
        assert signing not in answer.content.decode()
        assert signing[6:20] not in answer.content.decode()
    renamed = alice_api.patch(detail, {"name": "renamed"}, format="json")
    assert renamed.status_code == 200
    assert signing not in renamed.content.decode() and renamed.json()["secrets_shown_once"] == {}
    rotated = alice_api.patch(detail, {"rotate_secret": True}, format="json").json()
    new = rotated["secrets_shown_once"]["signing_secret"]
    assert new != signing and new not in alice_api.get(detail).content.decode()


def test_key_rotation_re_encrypts_channel_secrets(settings, alice_api, workspace):
    made = _create(alice_api, workspace, kind="slack", name="ops", secrets={"url": SLACK_URL})
    pk = made.json()["id"]
    old, new = settings.ENCRYPTION_KEY[0], Fernet.generate_key().decode()
    before = _raw(pk)
    settings.ENCRYPTION_KEY = [new, old]
    out = StringIO()
    call_command("rotate_encryption_key", stdout=out)
    assert "notifications.Channel.secret: 1 re-encrypted" in out.getvalue()
    after = _raw(pk)
    assert after != before
    assert json.loads(Fernet(new.encode()).decrypt(after.encode())) == {"url": SLACK_URL}
    settings.ENCRYPTION_KEY = [new]  # the old key can go
    assert json.loads(Channel.objects.get(pk=pk).secret) == {"url": SLACK_URL}


def test_the_migration_encrypts_plain_rows_once_and_reverses(workspace):
    channel = Channel.objects.create(workspace=workspace, kind="slack", name="old")
    plain = json.dumps({"url": SLACK_URL})
    with connection.cursor() as cursor:  # a row written before the field was encrypted
        cursor.execute(
            "UPDATE notifications_channel SET secret = %s WHERE id = %s", [plain, channel.pk]
        )
    editor = SimpleNamespace(connection=connection)

    migration.encrypt_secrets(None, editor)
    encrypted = _raw(channel.pk)
    assert "SLACKsecret" not in encrypted and crypto.decrypt(encrypted) == plain
    migration.encrypt_secrets(None, editor)  # twice: an encrypted value is left alone
    assert _raw(channel.pk) == encrypted
    assert json.loads(Channel.objects.get(pk=channel.pk).secret) == {"url": SLACK_URL}

    migration.decrypt_secrets(None, editor)
    assert _raw(channel.pk) == plain
