"""Re-encrypt every secret stored at rest with the first key of ENCRYPTION_KEY.

Rotation: put a new key in front (`ENCRYPTION_KEY=<new>,<old>`), restart, run this command,
then drop the old key. `--generate` prints a fresh key and changes nothing.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from config import crypto


class Command(BaseCommand):
    help = "Re-encrypt every encrypted field with the first ENCRYPTION_KEY key."

    def add_arguments(self, parser):
        parser.add_argument(
            "--generate", action="store_true", help="Print a new Fernet key and exit."
        )
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, generate: bool, batch_size: int, **options):
        if generate:
            self.stdout.write(crypto.generate_key())
            return
        try:
            crypto.fernet()
        except Exception as exc:
            raise CommandError(str(exc)) from exc
        total = 0
        for model, field in crypto.encrypted_fields():
            label = f"{model._meta.label}.{field.name}"
            count = self._rotate(model, field, batch_size, label)
            self.stdout.write(f"{label}: {count} re-encrypted")
            total += count
        self.stdout.write(self.style.SUCCESS(f"{total} secrets re-encrypted with the first key."))

    def _rotate(self, model, field, batch_size: int, label: str) -> int:
        manager = model._base_manager
        rows = manager.exclude(**{field.attname: ""}).exclude(**{f"{field.attname}__isnull": True})
        pks = list(rows.order_by("pk").values_list("pk", flat=True))
        count = 0
        for start in range(0, len(pks), batch_size):
            with transaction.atomic():
                # Reading decrypts with any key; update() encrypts with the first. update()
                # also skips save() signals: a rotation is not a change of the secret.
                batch = manager.filter(pk__in=pks[start : start + batch_size])
                try:
                    values = list(batch.select_for_update().values_list("pk", field.attname))
                except crypto.DecryptionFailed as exc:
                    raise CommandError(f"{label}: {exc.message}") from exc
                for pk, value in values:
                    manager.filter(pk=pk).update(**{field.attname: value})
                    count += 1
        return count
