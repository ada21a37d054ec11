"""`make scale`: the Procfile's topology under honcho, given time to stop cleanly.

honcho sends SIGTERM to every process and SIGKILLs what is still running 5 s later (a constant,
no option). The task worker (django-q2's qcluster) lets its running tasks finish and stops its
sentinel, pusher and workers in turn: ~2 s idle, more than 5 s on a busy machine, so under plain
`honcho start` it was killed mid-stop. Here the wait is PROCFILE_STOP_GRACE_S (20 s), like
`manage.py serve`'s. Arguments are honcho's: `python scripts/procfile.py start -c web=2,...`.

It also gives every process one fresh PROMETHEUS_MULTIPROC_DIR (unless one is set: then it is
emptied), so /metrics of either web process adds up the counters of all of them (cpaas/metrics.py)."""

import os
import shutil
import sys
import tempfile

import honcho.manager
from honcho.command import main

honcho.manager.KILL_WAIT = float(os.environ.get("PROCFILE_STOP_GRACE_S", 20))


def fresh_metrics_dir() -> None:
    """Counters of a previous run's processes must not be added to this run's."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path)
    else:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="cpaas-prometheus-")


if __name__ == "__main__":
    if sys.argv[1:2] == ["start"]:
        fresh_metrics_dir()
    sys.exit(main())
