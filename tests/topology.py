"""Several real processes of the product on the test database, as an operator runs them: web
processes (daphne), engines, dispatchers, the task worker. They inherit REDIS_URL from the test
run, so the Redis-mode pass (scripts/test.sh) runs them against the real redis-server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.db import connection

from tests.conftest import ROOT, _database_url, _free_port


def process_env(**extra: str) -> dict:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "cpaas.settings.test",
        "DATABASE_URL": _database_url(connection.settings_dict),
        "Q_SYNC": "0",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    return env


class Topology:
    """`with Topology(logs, web=2, engine=2) as t:` starts them, waits for the web ports, and
    stops everything (SIGTERM, then SIGKILL) on the way out. `t.web[i]` is a base URL."""

    def __init__(
        self, logs: Path, *, web=0, engine=0, dispatcher=0, worker=0, env: dict | None = None,
        args: dict[str, list[str]] | None = None,
    ):  # fmt: skip
        self.logs, self.env, self.args = logs, process_env(**(env or {})), args or {}
        self.counts = {"web": web, "engine": engine, "dispatcher": dispatcher, "worker": worker}
        self.processes: dict[str, subprocess.Popen] = {}
        self.web: list[str] = []

    def start(self, name: str, command: list[str]) -> None:
        self.processes[name] = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=open(self.logs / f"{name}.log", "wb"),
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def __enter__(self) -> Topology:
        manage = str(ROOT / "manage.py")
        ports = []
        for i in range(self.counts["web"]):
            port = _free_port()
            ports.append(port)
            self.start(f"web{i + 1}", [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                                       "cpaas.asgi:application"])  # fmt: skip
            self.web.append(f"http://127.0.0.1:{port}")
        for kind, command in (("engine", "engine"), ("dispatcher", "dispatcher"), ("worker", "worker")):
            for i in range(self.counts[kind]):
                self.start(f"{kind}{i + 1}", [sys.executable, manage, command, *self.args.get(kind, [])])
        try:
            for i, port in enumerate(ports):
                self._wait_for_port(f"web{i + 1}", port)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_for_port(self, name: str, port: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return
            except OSError:
                if time.monotonic() > deadline or self.processes[name].poll() is not None:
                    raise AssertionError(f"{name} did not start:\n{self.log(name)[-3000:]}") from None
                time.sleep(0.1)

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def assert_alive(self) -> None:
        for name, proc in self.processes.items():
            assert proc.poll() is None, f"{name} exited with {proc.returncode}:\n{self.log(name)[-3000:]}"

    def stop(self) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.processes.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def __exit__(self, *exc) -> None:
        self.stop()


def wait_for(check, timeout: float = 120, every: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(every)
    return False
