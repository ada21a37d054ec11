"""`manage.py engine`: the journey engine's long-lived loop. Each round claims due enrolments
in a batch (new ones, resumed ones, timers whose time came) and advances them; between rounds
it enrols audiences chunk by chunk and starts scheduled runs. Idle, it sleeps 50 ms, so a timer
fires within about a tenth of a second of its time. `serve` starts one; run more on any machine:
they share the work through the database (SKIP LOCKED on PostgreSQL). Webhook calls run on a
small thread pool, never inside a round's transaction. SIGTERM/SIGINT finish the round and exit."""

import logging
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

from django.core.management.base import BaseCommand
from django.db import DatabaseError, connection, connections
from django.utils import timezone

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
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="webhook")
        started = last_work = last_maintenance = time.monotonic()
        last_schedules = 0.0
        self.stdout.write(f"engine {os.getpid()} started")
        self.stdout.flush()
        while not stopping:
            done = 0
            try:
                now = timezone.now()
                n, calls = run_round(now=now, limit=batch)
                done += n
                for call in calls:
                    pool.submit(_call, call)
                clock = time.monotonic()
                if not n or clock - last_maintenance >= MAINTENANCE_EVERY_S:
                    last_maintenance = clock
                    done += audience_step(now=timezone.now())
                    if clock - last_schedules >= SCHEDULES_EVERY_S:
                        last_schedules = clock
                        done += schedules_due(now=timezone.now())
            except DatabaseError:
                log.exception("engine round failed; reconnecting")
                connection.close()
                time.sleep(0.5)
            clock = time.monotonic()
            if done:
                last_work = clock
            if max_seconds and clock - started >= max_seconds:
                break
            if exit_when_idle and clock - last_work >= exit_when_idle:
                break
            if not done:
                time.sleep(poll)
        pool.shutdown(wait=True)
        self.stdout.write(f"engine {os.getpid()} stopped")
