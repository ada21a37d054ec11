"""`make scale`: the Procfile's topology under honcho, given time to stop cleanly.

honcho sends SIGTERM to every process and SIGKILLs what is still running 5 s later (a constant,
no option). The task worker (django-q2's qcluster) lets its running tasks finish and stops its
sentinel, pusher and workers in turn: ~2 s idle, more than 5 s on a busy machine, so under plain
`honcho start` it was killed mid-stop. Here the wait is PROCFILE_STOP_GRACE_S (20 s), like
`manage.py serve`'s. Arguments are honcho's: `python scripts/procfile.py start -c web=2,...`."""

import os
import sys

import honcho.manager
from honcho.command import main

honcho.manager.KILL_WAIT = float(os.environ.get("PROCFILE_STOP_GRACE_S", 20))

if __name__ == "__main__":
    sys.exit(main())
