"""`make run`'s server: the ASGI app (daphne: HTTP, websockets, static files), a django-q2
worker, the message dispatcher and the journey engine, started together and kept running.

A child that dies is restarted after a backoff (1 s, 2 s, 4 s... up to 30 s; back to 1 s once it
has stayed up for a minute) and the others go on, the web server included. A child that dies
more than --max-restarts times within --restart-window seconds makes `serve` stop everything and
exit with status 1, so an outside supervisor (systemd, Kubernetes, a container runtime) restarts
the whole set. Ctrl-C (or SIGTERM) stops them all and exits 0.

Once started it prints the same readiness report as `/readyz` (cpaas/health.py): as soon as the
loops beat and everything is ready, or after READY_WAIT_S with what is not."""

import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from collections import deque

from django.core.management.base import BaseCommand, CommandError

BACKOFF_MAX_S = 30.0
STABLE_AFTER_S = 60.0  # a child up this long starts its backoff over
STOP_GRACE_S = 15.0
READY_WAIT_S = 30.0  # how long serve waits for everything to be ready before printing what is not


def _die_with_parent() -> None:  # runs in the child before exec (Linux)
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass  # not Linux: an orphan is left to the outside supervisor


class Child:
    def __init__(self, name: str, command: list[str], env: dict | None = None):
        self.name, self.command, self.env = name, command, env
        self.process: subprocess.Popen | None = None
        self.started = 0.0
        self.restart_at: float | None = None
        self.delay = 0.0
        self.deaths: deque[float] = deque()

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command, start_new_session=True, preexec_fn=_die_with_parent, env=self.env
        )
        self.started, self.restart_at = time.monotonic(), None

    @property
    def pid(self) -> int:
        return self.process.pid if self.process else 0

    def signal_group(self, sig: int) -> None:
        """The child and whatever it started (qcluster's sentinel and workers) share its session."""
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


class Command(BaseCommand):
    help = "Serve the app on HOST:PORT with the task worker, dispatcher and engine beside it."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"))
        parser.add_argument("--no-worker", action="store_true")
        parser.add_argument(
            "--max-restarts",
            type=int,
            default=int(os.environ.get("SERVE_MAX_RESTARTS", 5)),
            help="Restarts of one child within --restart-window before serve gives up (exit 1).",
        )
        parser.add_argument(
            "--restart-window", type=float, default=float(os.environ.get("SERVE_RESTART_WINDOW_S", 300))
        )
        parser.add_argument(
            "--restart-backoff",
            type=float,
            default=float(os.environ.get("SERVE_RESTART_BACKOFF_S", 1.0)),
            help="First wait before restarting a dead child; doubles on each quick death.",
        )

    def say(self, text: str) -> None:
        self.stdout.write(f"serve: {text}")
        self.stdout.flush()

    def handle(self, *args, host, port, no_worker, max_restarts, restart_window, restart_backoff, **options):
        python = sys.executable
        manage = os.path.join(os.getcwd(), "manage.py")
        children = [
            Child("web", [python, "-m", "daphne", "-b", host, "-p", str(port), "cpaas.asgi:application"])
        ]
        if not no_worker:
            children += [
                Child("worker", [python, manage, "qcluster"]),
                # messages go out through their own long-lived loop (batched claims, ~0.1 s latency)
                Child("dispatcher", [python, manage, "dispatcher"]),
                # journeys advance in their own loop too (batched rounds, timers within ~0.1 s)
                Child("engine", [python, manage, "engine"]),
            ]
        stopping = False

        def stop(signum=None, frame=None):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        for child in children:
            child.start()
            self.say(f"started {child.name} (pid {child.pid})")
        self.say(f"serving on http://{host}:{port}/  (worker: {'off' if no_worker else 'on'}). Ctrl-C stops.")

        gave_up = None
        ready_deadline = time.monotonic() + READY_WAIT_S
        next_ready_check = time.monotonic() + 1.0
        try:
            while not stopping and not gave_up:
                now = time.monotonic()
                if next_ready_check and now >= next_ready_check:
                    next_ready_check = self._report_readiness(
                        final=now >= ready_deadline, no_worker=no_worker
                    )
                for child in children:
                    if child.restart_at is not None:
                        if now >= child.restart_at:
                            child.start()
                            self.say(f"restarted {child.name} (pid {child.pid})")
                        continue
                    code = child.process.poll()
                    if code is None:
                        if now - child.started >= STABLE_AFTER_S:
                            child.delay = 0.0
                        continue
                    child.signal_group(signal.SIGKILL)  # leftovers of a dead child (qcluster's workers)
                    while child.deaths and child.deaths[0] < now - restart_window:
                        child.deaths.popleft()
                    child.deaths.append(now)
                    if len(child.deaths) > max_restarts:
                        gave_up = (
                            f"{child.name} exited with status {code} {len(child.deaths)} times within "
                            f"{restart_window:.0f} s; giving up"
                        )
                        break
                    child.delay = min(BACKOFF_MAX_S, child.delay * 2 if child.delay else restart_backoff)
                    child.restart_at = now + child.delay
                    self.say(
                        f"{child.name} (pid {child.pid}) exited with status {code}; restarting in "
                        f"{child.delay:.1f} s ({len(child.deaths)} of {max_restarts} restarts "
                        f"allowed within {restart_window:.0f} s)"
                    )
                time.sleep(0.2)
        finally:
            self._stop_all(children)
        if gave_up:
            raise CommandError(f"{gave_up}; stopped every process.", returncode=1)
        self.say("stopped.")

    def _report_readiness(self, *, final: bool, no_worker: bool) -> float:
        """Print /readyz's report once ready (or once the wait is over); return when to look
        again, 0 when done."""
        from django.db import close_old_connections

        from cpaas.health import readiness

        try:
            report = readiness()
        except Exception as exc:  # the report says what it can; serve goes on either way
            report = {"status": "unhealthy", "error": type(exc).__name__}
        finally:
            close_old_connections()
        if no_worker:  # nothing here runs the loops, so their silence is not this serve's problem
            checks = {k: v for k, v in report.get("checks", {}).items() if not k.startswith("loop.")}
            report = {
                "status": "ok" if all(c["ok"] for c in checks.values()) else "unhealthy",
                "checks": checks,
            }
        if report["status"] == "ok" or final:
            self.say(f"readiness (/readyz): {json.dumps(report, sort_keys=True)}")
            return 0.0
        return time.monotonic() + 1.0

    def _stop_all(self, children: list[Child]) -> None:
        running = [c for c in children if c.process and c.process.poll() is None]
        for child in running:
            child.process.send_signal(signal.SIGTERM)  # the leader stops its own helpers cleanly
        deadline = time.monotonic() + STOP_GRACE_S
        for child in running:
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.signal_group(signal.SIGKILL)
                child.process.wait()
        for child in children:
            if child.process:
                child.signal_group(signal.SIGKILL)  # anything a child left behind
