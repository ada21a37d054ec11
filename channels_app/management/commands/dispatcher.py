"""`manage.py dispatcher`: the long-lived loop that hands queued messages to providers (see
channels_app/services/dispatch.py). `serve` starts one; run more on any machine to scale out,
they share the work through the database. SIGTERM/SIGINT finish the current round and exit."""

import logging
import os
import signal
import time

from django.core.management.base import BaseCommand
from django.db import DatabaseError, connection
from django.utils import timezone

from channels_app import conf
from channels_app.services.dispatch import dispatch_batch, sweep

log = logging.getLogger("channels_app.dispatcher")
SWEEP_EVERY_S = 0.2


class Command(BaseCommand):
    help = "Hand queued messages to providers, in batches, until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--max-seconds", type=float, default=0, help="Stop after this long (0: never).")
        parser.add_argument(
            "--batch", type=int, default=0, help="Messages per claim (default CHANNELS_DISPATCH_BATCH)."
        )
        parser.add_argument(
            "--exit-when-idle", type=float, default=0, help="Stop after this many seconds with nothing to do."
        )

    def handle(self, *args, max_seconds, batch, exit_when_idle, **options):
        verbose = options["verbosity"] >= 2
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        started = last_sweep = last_work = time.monotonic()
        poll = float(conf.get("CHANNELS_POLL_S"))
        self.stdout.write(f"dispatcher {os.getpid()} started", ending="\n")
        self.stdout.flush()
        while not stopping:
            now = timezone.now()
            done = 0
            try:
                claimed = dispatch_batch(now=now, limit=batch or None)
                done += claimed
                if verbose and claimed:
                    self.stdout.write(f"pid={os.getpid()} claimed={claimed}")
                    self.stdout.flush()
                if not claimed or time.monotonic() - last_sweep >= SWEEP_EVERY_S:
                    last_sweep = time.monotonic()
                    done += sweep(now=now)
            except DatabaseError:
                log.exception("dispatcher round failed; reconnecting")
                connection.close()
                time.sleep(1)
            clock = time.monotonic()
            if done:
                last_work = clock
            if max_seconds and clock - started >= max_seconds:
                break
            if exit_when_idle and clock - last_work >= exit_when_idle:
                break
            if not done:
                time.sleep(poll)
        self.stdout.write(f"dispatcher {os.getpid()} stopped")
