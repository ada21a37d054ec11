"""Recompute every consent record from the append-only events and report where the stored
records differ. `--write` stores the recomputed state. Exit status 1 when differences remain."""

from django.core.management.base import BaseCommand, CommandError

from consent.services import records_rebuild
from cpaas.models import Workspace


class Command(BaseCommand):
    help = "Rebuild consent records from consent events; report (and with --write, fix) differences."

    def add_arguments(self, parser):
        parser.add_argument("--workspace", help="Slug of one workspace (default: all).")
        parser.add_argument("--write", action="store_true", help="Store the state derived from the events.")
        parser.add_argument("--limit", type=int, default=50, help="Differences to print (default 50).")

    def handle(self, *args, workspace=None, write=False, limit=50, **options):
        ws = None
        if workspace:
            ws = Workspace.objects.filter(slug=workspace).first()
            if ws is None:
                raise CommandError(f"No workspace '{workspace}'.")
        differences = records_rebuild(workspace=ws, write=write)
        for difference in differences[:limit]:
            self.stdout.write(difference.describe())
        if len(differences) > limit:
            self.stdout.write(f"… and {len(differences) - limit} more.")
        if not differences:
            self.stdout.write(self.style.SUCCESS("Records equal the events: 0 differences."))
            return
        if write:
            self.stdout.write(self.style.SUCCESS(f"{len(differences)} record(s) rewritten from the events."))
            return
        self.stdout.write(self.style.WARNING(f"{len(differences)} difference(s); run with --write to fix."))
        raise SystemExit(1)
