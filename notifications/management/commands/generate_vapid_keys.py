"""Print a new VAPID key pair for Web Push, as environment lines. Changes nothing: put them in
the environment (VAPID_PRIVATE_KEY, VAPID_PUBLIC_KEY, with VAPID_SUBJECT) and restart."""

from django.core.management.base import BaseCommand

from notifications import vapid


class Command(BaseCommand):
    help = "Print a new VAPID key pair (P-256, base64url) for Web Push."

    def handle(self, *args, **options):
        private, public = vapid.generate()
        self.stdout.write(f"VAPID_PRIVATE_KEY={private}")
        self.stdout.write(f"VAPID_PUBLIC_KEY={public}")
