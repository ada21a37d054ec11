"""`make run`'s server: the ASGI app (daphne: HTTP, websockets, static files), a django-q2
worker, the message dispatcher and the journey engine, started together. Ctrl-C (or SIGTERM) stops them all."""

import os
import signal
import subprocess
import sys
import time

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve the app on HOST:PORT with a task worker beside it."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"))
        parser.add_argument("--no-worker", action="store_true")

    def handle(self, *args, host, port, no_worker, **options):
        python = sys.executable
        manage = os.path.join(os.getcwd(), "manage.py")
        commands = [[python, "-m", "daphne", "-b", host, "-p", str(port), "cpaas.asgi:application"]]
        if not no_worker:
            commands.append([python, manage, "qcluster"])
            # messages go out through their own long-lived loop (batched claims, ~0.1 s latency)
            commands.append([python, manage, "dispatcher"])
            # journeys advance in their own loop too (batched rounds, timers within ~0.1 s)
            commands.append([python, manage, "engine"])
        children = [subprocess.Popen(cmd, start_new_session=True) for cmd in commands]
        self.stdout.write(
            self.style.SUCCESS(
                f"Serving on http://{host}:{port}/  (worker: {'off' if no_worker else 'on'}). Ctrl-C stops."
            )
        )

        stopping = False

        def stop(signum=None, frame=None):
            nonlocal stopping
            if stopping:
                return
            stopping = True
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping:
                if any(child.poll() is not None for child in children):
                    self.stderr.write("A process exited; stopping the others.")
                    stop()
                time.sleep(0.3)
        finally:
            stop()
            deadline = time.monotonic() + 15
            for child in children:
                try:
                    child.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.kill()
            self.stdout.write("Stopped.")
