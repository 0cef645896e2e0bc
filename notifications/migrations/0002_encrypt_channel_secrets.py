"""Channel secrets encrypted at rest: the column stays text, its values become Fernet tokens.

The rows are rewritten with SQL, not through the model: the historical model already has the
encrypted field, which would try to decrypt the plain JSON it reads. A value that already
opens with the configured keys is left alone, so the migration can run twice."""

from django.db import migrations

import config.crypto


def _rewrite(schema_editor, change) -> None:
    connection = schema_editor.connection
    table = connection.ops.quote_name("notifications_channel")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, secret FROM {table} WHERE secret <> ''")  # noqa: S608
        rows = cursor.fetchall()
        for pk, value in rows:
            new = change(value)
            if new != value:
                cursor.execute(
                    f"UPDATE {table} SET secret = %s WHERE id = %s",  # noqa: S608
                    [new, pk],
                )


def _is_token(value: str) -> bool:
    try:
        config.crypto.decrypt(value)
    except config.crypto.DecryptionFailed:
        return False
    return True


def encrypt_secrets(apps, schema_editor) -> None:
    _rewrite(schema_editor, lambda v: v if _is_token(v) else config.crypto.encrypt(v))


def decrypt_secrets(apps, schema_editor) -> None:
    _rewrite(schema_editor, lambda v: config.crypto.decrypt(v) if _is_token(v) else v)


class Migration(migrations.Migration):
    dependencies = [("notifications", "0001_initial")]

    operations = [
        migrations.AlterField(
            model_name="channel",
            name="secret",
            field=config.crypto.EncryptedTextField(
                blank=True, default="", help_text="JSON of the channel's secrets, encrypted at rest."
            ),
        ),
        migrations.RunPython(encrypt_secrets, decrypt_secrets, elidable=False),
    ]
