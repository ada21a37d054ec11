"""Show or apply the workspaces' retention periods now (the worker does it hourly)."""

from django.core.management.base import BaseCommand

from cpaas.models import Workspace
from cpaas.retention import periods, purge, purge_workspace


class Command(BaseCommand):
    help = "Delete messages, steps and events older than each workspace's retention periods."

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="count what would be deleted, delete nothing"
        )

    def handle(self, *args, dry_run=False, **options):
        if dry_run:
            for workspace in Workspace.objects.order_by("pk"):
                if limits := periods(workspace):
                    found = purge_workspace(workspace, dry_run=True)
                    self.stdout.write(f"{workspace.slug}: keeps {limits} days; would delete {found}")
            return
        for workspace_id, found in purge(budget_s=float("inf")).items():
            self.stdout.write(f"workspace {workspace_id}: deleted {found}")
