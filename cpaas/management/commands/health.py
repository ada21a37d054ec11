"""`manage.py health`: the /readyz report on the command line (exit 0 ready, 1 not), for
container health checks of processes without an HTTP server. `--loop KIND` asks only whether
this host's KIND process (engine, dispatcher, worker) beat within HEALTH_HEARTBEAT_STALE_S: a
container's host name is its own, so each engine or dispatcher container checks itself."""

import datetime as dt
import json
import socket

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone


class Command(BaseCommand):
    help = "Print the readiness report (exit 1 when not ready); --loop KIND: this host's loop only."

    def add_arguments(self, parser):
        parser.add_argument(
            "--loop", default="", help="engine, dispatcher or worker: this host's process only"
        )

    def handle(self, *args, loop, **options):
        if loop:
            from cpaas.models import Heartbeat

            fresh = timezone.now() - dt.timedelta(seconds=settings.HEALTH_HEARTBEAT_STALE_S)
            if not Heartbeat.objects.filter(
                kind=loop, host=socket.gethostname()[:255], beat_at__gte=fresh
            ).exists():
                raise CommandError(
                    f"no {loop} process on this host beat within {settings.HEALTH_HEARTBEAT_STALE_S:.0f} s"
                )
            self.stdout.write(f"{loop}: beating")
            return
        from cpaas.health import readiness

        report = readiness()
        self.stdout.write(json.dumps(report, sort_keys=True))
        if report["status"] != "ok":
            raise CommandError("not ready")
