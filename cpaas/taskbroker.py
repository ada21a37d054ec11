"""django-q2's ORM broker, made to survive its database like our own loops (cpaas/loops.py).

Out of the box a lost connection makes the cluster's pusher log a traceback, sleep 10 s and die
(the sentinel starts another, which dies the same way while the database is away), and makes
the monitor die on a failed acknowledgement. Here the pusher's poll and the monitor's
acknowledgement catch database errors of every layer, close the connection, log one line per
incident and back off; the pusher's polls also keep the task worker's heartbeat row fresh.
Configured by Q_CLUSTER["broker_class"] in settings (ORM broker only; Redis mode keeps its own)."""

from __future__ import annotations

import time

from django_q.brokers.orm import ORM

from .loops import DATABASE_ERRORS, DatabaseGuard, Heartbeat


class GuardedORM(ORM):
    def __init__(self, list_key: str | None = None):
        super().__init__(list_key=list_key)
        self._guarded()

    def __setstate__(self, state):  # a broker pickled into a spawned process
        super().__setstate__(state)
        self._guarded()

    def _guarded(self) -> None:
        self.guard = DatabaseGuard("task worker")
        self.heartbeat = Heartbeat("worker")

    def dequeue(self):
        try:
            tasks = super().dequeue()
            ended = self.guard.succeeded()
            if ended:
                self.heartbeat.survived(ended)
            self.heartbeat.beat()
        except DATABASE_ERRORS as exc:
            time.sleep(self.guard.failed(exc))
            return None
        return tasks

    def delete(self, task_id):
        """Acknowledging (and failing) a task deletes its queue row. If the database is away the
        row stays locked and the task runs again after Q_CLUSTER["retry"]: tasks are written to
        be safe to run twice."""
        try:
            super().delete(task_id)
            self.guard.succeeded()
        except DATABASE_ERRORS as exc:
            self.guard.failed(exc)
