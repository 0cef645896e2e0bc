"""Create the demo admin and workspace for `make run`, once, and print where to go."""

import os
import secrets

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts import services
from accounts.models import User

ADMIN_USERNAME = "admin"


class Command(BaseCommand):
    help = "Create the demo admin (DOCCHAIN_ADMIN_PASSWORD or a printed one) and print the URLs."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))

    @transaction.atomic
    def handle(self, *args, port: int, host: str, **options):
        password = os.environ.get("DOCCHAIN_ADMIN_PASSWORD")
        admin = User.objects.filter(username=ADMIN_USERNAME).first()
        if admin is None:
            generated = password is None
            password = password or secrets.token_urlsafe(12)
            admin = User.objects.create_superuser(
                username=ADMIN_USERNAME, email="admin@example.com", password=password
            )
            services.create_workspace(creator=admin, name="Demo", is_personal=True)
            note = (
                "generated, shown only this once" if generated else "from DOCCHAIN_ADMIN_PASSWORD"
            )
            self.stdout.write(f"Demo admin: {ADMIN_USERNAME} / {password}  ({note})")
        elif password is not None and not admin.check_password(password):
            admin.set_password(password)
            admin.save(update_fields=["password"])
            self.stdout.write(f"Demo admin: {ADMIN_USERNAME} (password reset from the environment)")
        else:
            self.stdout.write(f"Demo admin: {ADMIN_USERNAME} (already exists; password unchanged)")

        base = f"http://{host}:{port}"
        self.stdout.write(
            "\n".join(
                [
                    "",
                    f"  API       {base}/api/v3/",
                    f"  Docs      {base}/docs   (ReDoc: {base}/redoc, schema: {base}/openapi.json)",
                    f"  Admin     {base}/admin/",
                    f"  Health    {base}/api/v3/health",
                    "",
                ]
            )
        )
