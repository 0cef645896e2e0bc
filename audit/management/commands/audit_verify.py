"""`manage.py audit_verify [--workspace N]`: walk the audit hash chains; exit 1 naming the
first edited, deleted or reordered row of each broken chain (and record a critical event)."""

from django.core.management.base import BaseCommand, CommandError

from audit.verification import verify_and_report


class Command(BaseCommand):
    help = "Verify the audit log's hash chains (all, or one workspace's)."

    def add_arguments(self, parser):
        parser.add_argument("--workspace", type=int, help="Only this workspace's chain.")

    def handle(self, *args, workspace=None, **options):
        result = verify_and_report(workspace_id=workspace)
        if not result["ok"]:
            for problem in result["problems"]:
                self.stderr.write(problem)
            raise CommandError(
                f"audit chain verification failed: {result['problems'][0]}", returncode=1
            )
        self.stdout.write(
            f"{result['chains']} chain(s) verified: no row edited, deleted or reordered."
        )
