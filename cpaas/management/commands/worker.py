"""The task worker (django-q2's qcluster) for process managers that signal a whole process group:
honcho, systemd's default KillMode=control-group, `docker stop` with an init that forwards to
the group.

qcluster stops cleanly when only its leader gets SIGTERM. When its sentinel gets SIGTERM too
(the sentinel keeps the default action, so it dies at once), the leader's stop finds no living
sentinel, returns without marking the cluster stopped, and the leader waits forever until it is
killed: tried with honcho, still running after 40 s. So this command runs qcluster in a session
of its own and passes SIGTERM / SIGINT to its leader only, then exits with its status."""

import signal
import subprocess
import sys

from django.core.management.base import BaseCommand

from .serve import _die_with_parent


class Command(BaseCommand):
    help = "Run the task worker (qcluster); SIGTERM to this process's group stops it cleanly."

    def handle(self, *args, **options):
        child = subprocess.Popen(
            [sys.executable, sys.argv[0], "qcluster"], start_new_session=True, preexec_fn=_die_with_parent
        )

        def forward(signum, frame):
            child.send_signal(signal.SIGTERM)

        signal.signal(signal.SIGTERM, forward)
        signal.signal(signal.SIGINT, forward)
        code = child.wait()
        if code:
            sys.exit(code if code > 0 else 128 - code)
