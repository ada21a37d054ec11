"""`manage.py dispatcher`: the long-lived loop that hands queued messages to providers (see
channels_app/services/dispatch.py). `serve` starts one; run more on any machine to scale out,
they share the work through the database. SIGTERM/SIGINT finish the current round and exit.
A lost database never ends it: `cpaas.loops.run_loop` reconnects with backoff."""

import gc
import os
import time

from django.core.management.base import BaseCommand
from django.utils import timezone

from channels_app import conf
from channels_app.services.dispatch import dispatch_batch, sweep
from cpaas.loops import run_loop

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
        last_sweep = time.monotonic()

        def work() -> int:
            nonlocal last_sweep
            now = timezone.now()
            claimed = dispatch_batch(now=now, limit=batch or None)
            done = claimed
            if verbose and claimed:
                self.stdout.write(f"pid={os.getpid()} claimed={claimed}")
                self.stdout.flush()
            if not claimed or time.monotonic() - last_sweep >= SWEEP_EVERY_S:
                last_sweep = time.monotonic()
                done += sweep(now=now)
            return done

        # The objects of start-up (Django, models, settings) live as long as the process: moved out
        # of the collector's view, a batch's garbage no longer costs a scan of all of them.
        gc.freeze()
        self.stdout.write(f"dispatcher {os.getpid()} started")
        self.stdout.flush()
        run_loop(
            kind="dispatcher",
            work=work,
            poll=float(conf.get("CHANNELS_POLL_S")),
            max_seconds=max_seconds,
            exit_when_idle=exit_when_idle,
        )
        self.stdout.write(f"dispatcher {os.getpid()} stopped")
