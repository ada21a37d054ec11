"""`manage.py engine`: the journey engine's long-lived loop. Each round claims due enrolments
in a batch (new ones, resumed ones, timers whose time came) and advances them; between rounds
it enrols audiences chunk by chunk and starts scheduled runs. Idle, it sleeps 50 ms, so a timer
fires within about a tenth of a second of its time. `serve` starts one; run more on any machine:
they share the work through the database (SKIP LOCKED on PostgreSQL). Webhook calls run on a
small thread pool, never inside a round's transaction. SIGTERM/SIGINT finish the round and exit.
A lost database never ends it: `cpaas.loops.run_loop` reconnects with backoff."""

import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor

from django.core.management.base import BaseCommand
from django.db import connections
from django.utils import timezone

from cpaas.loops import run_loop
from journeys.engine.audience import audience_step, schedules_due
from journeys.engine.runner import BATCH, run_round
from journeys.engine.webhooks import call_and_record

log = logging.getLogger("journeys.engine")
MAINTENANCE_EVERY_S = 0.25
SCHEDULES_EVERY_S = 5.0


def _call(args):
    try:
        call_and_record(*args)
    except Exception:
        log.exception("webhook call for enrolment %s failed", args[0])
    finally:
        connections.close_all()


class Command(BaseCommand):
    help = "Advance journey enrolments (timers, replies, events, audiences) until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--max-seconds", type=float, default=0)
        parser.add_argument("--batch", type=int, default=BATCH)
        parser.add_argument(
            "--poll", type=float, default=float(os.environ.get("JOURNEYS_ENGINE_POLL_S", 0.05))
        )
        parser.add_argument("--exit-when-idle", type=float, default=0)

    def handle(self, *args, max_seconds, batch, poll, exit_when_idle, **options):
        pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="webhook")
        last_maintenance = time.monotonic()
        last_schedules = 0.0

        def work() -> int:
            nonlocal last_maintenance, last_schedules
            n, calls = run_round(now=timezone.now(), limit=batch, ahead=True)
            done = n
            for call in calls:
                pool.submit(_call, call)
            clock = time.monotonic()
            if not n or clock - last_maintenance >= MAINTENANCE_EVERY_S:
                last_maintenance = clock
                done += audience_step(now=timezone.now())
                if clock - last_schedules >= SCHEDULES_EVERY_S:
                    last_schedules = clock
                    done += schedules_due(now=timezone.now())
            return done

        self.stdout.write(f"engine {os.getpid()} started")
        self.stdout.flush()
        run_loop(kind="engine", work=work, poll=poll, max_seconds=max_seconds, exit_when_idle=exit_when_idle)
        pool.shutdown(wait=True)
        self.stdout.write(f"engine {os.getpid()} stopped")
