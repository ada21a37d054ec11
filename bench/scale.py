"""The scale-out topology's capacity on PostgreSQL + Redis (docs/operations.md quotes it).

    .venv/bin/python bench/scale.py [engine] [realtime]
    BENCH_DATABASE_URL (default postgres://cpaas:cpaas@127.0.0.1:5432/cpaas_bench_scale, dropped and created)
    BENCH_REDIS_URL (default redis://127.0.0.1:6399/2: scripts/provision.sh's redis-server)
    BENCH_CONTACTS (default 5000 per configuration)

Prints, measured in the same run:
1. the yardstick: raw single-row INSERTs per second (autocommit, one connection);
2. engine end to end with 1, 2 and 4 engine processes and 1 and 2 dispatchers: BENCH_CONTACTS
   contacts enrolled in one insert into `trigger.manual -> message.send (sandbox) -> exit`, then
   the processes (already up) take them; messages handed to the provider per second (enrolment
   committed to the last hand-over), as
   a ratio of the raw INSERT rate, and the CPU the engines, dispatchers and PostgreSQL used in that
   time against the machine's (how saturated it was: where the curve flattens, and why);
3. realtime fan-out with 2 web processes: sockets split over both, events published after commit
   by a separate process through the Redis channel layer; lateness p50 / p95 / max over every
   (event, socket) pair, lost and duplicated deliveries.
Figures only; no assertion (tests never assert times)."""

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import common  # bench/common.py (a bench runs as python bench/<name>.py)

ROOT = Path(__file__).resolve().parent.parent
URL = os.environ.get("BENCH_DATABASE_URL", "postgres://cpaas:cpaas@127.0.0.1:5432/cpaas_bench_scale")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6399/2")
CONTACTS = int(os.environ.get("BENCH_CONTACTS", 5000))
ENV = {**os.environ, "DATABASE_URL": URL, "REDIS_URL": REDIS, "DJANGO_SETTINGS_MODULE": "cpaas.settings.dev",
       "PYTHONUNBUFFERED": "1", "LOG_LEVEL": "WARNING", "DEBUG": "false"}  # fmt: skip
PY = sys.executable
CONFIGS = [(1, 1), (2, 1), (4, 1), (1, 2), (2, 2), (4, 2)]  # (engines, dispatchers)
TICK = os.sysconf("SC_CLK_TCK")


def start(*command):
    return subprocess.Popen([PY, *command], cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip


def cpu_s(pids) -> float:
    """User + system CPU seconds of these processes and their children so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        except (OSError, IndexError):
            pass
    return total / TICK


def postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


def wait_until(check, timeout=900, every=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(every)
    return False


def setup_django():
    os.environ.update(
        {k: ENV[k] for k in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "LOG_LEVEL")}
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def workspace(name):
    from django.contrib.auth import get_user_model

    from channels_app.models import Channel
    from cpaas.models import Membership, Workspace

    ws = Workspace.objects.create(name=name, slug=f"bench-{uuid.uuid4().hex[:8]}", timezone="UTC")
    user, _ = get_user_model().objects.get_or_create(username="bench")
    Membership.objects.get_or_create(workspace=ws, user=user, defaults={"role": "admin"})
    Channel.objects.filter(workspace=ws, kind="sms").update(
        rate_limit_per_second=100_000, settings={"sandbox": {"receipt": "none"}}
    )
    return ws, user


def engine_run(engines: int, dispatchers: int, insert_rate: float) -> float:
    from django.db import transaction
    from django.utils import timezone

    from channels_app.models import SandboxDelivery
    from contacts.models import Contact
    from cpaas.tenancy import Actor
    from journeys.engine.enroll import enroll_many
    from journeys.services import journey_create, journey_publish

    ws, user = workspace(f"Bench {engines}e{dispatchers}d")
    Contact.objects.bulk_create(
        (
            Contact(workspace=ws, first_name=f"P{i}", phone=f"+4479{ws.pk % 100:02d}{i:06d}")
            for i in range(CONTACTS)
        ),
        batch_size=5000,
    )
    ids = list(Contact.objects.filter(workspace=ws).values_list("pk", flat=True))
    graph = {"schema": 1, "start": "t", "nodes": {
        "t": {"type": "trigger.manual", "config": {}, "exits": {"next": "m"}},
        "m": {"type": "message.send", "config": {"channel": "sms", "template": {"en": "Welcome aboard!"}},
              "exits": {"next": "x", "failed": None}},
        "x": {"type": "exit", "config": {}, "exits": {}}}}  # fmt: skip
    actor = Actor.for_user(user)
    journey = journey_create(workspace=ws, actor=actor, name="Bench", graph=graph)
    journey_publish(journey=journey, actor=actor)
    from cpaas.models import Heartbeat

    Heartbeat.objects.all().delete()
    procs = [start("manage.py", "engine") for _ in range(engines)]
    procs += [start("manage.py", "dispatcher") for _ in range(dispatchers)]
    delivered = SandboxDelivery.objects.filter(channel__workspace=ws)
    try:
        # the processes are up (each has beaten) before the contacts enter: start-up is not measured
        if not wait_until(lambda: Heartbeat.objects.count() >= engines + dispatchers, timeout=120):
            raise SystemExit("the engines and dispatchers did not start")
        pg = postgres_pids()  # their backends exist now
        before = [cpu_s(p.pid for p in procs[:engines]), cpu_s(p.pid for p in procs[engines:]), cpu_s(pg)]
        with transaction.atomic():
            enroll_many(journey=journey, contact_ids=ids, now=timezone.now())
        t0 = time.monotonic()
        ok = wait_until(lambda: delivered.count() >= len(ids), every=0.05)
        wall = time.monotonic() - t0
        after = [cpu_s(p.pid for p in procs[:engines]), cpu_s(p.pid for p in procs[engines:]), cpu_s(pg)]
        engine_cpu, dispatch_cpu, pg_cpu = (a - b for a, b in zip(after, before, strict=True))
    finally:
        common.stop(procs)
    assert ok, "not every message reached the provider"
    rate = len(ids) / wall
    cores = os.cpu_count() or 1
    print(f"  {engines} engine(s), {dispatchers} dispatcher(s): {rate:8,.0f} msg/s ({rate / insert_rate:.2f} x raw INSERT); "
          f"{wall:.1f} s enrolled to last hand-over; CPU s: engines {engine_cpu:.1f}, dispatchers {dispatch_cpu:.1f}, "
          f"PostgreSQL {pg_cpu:.1f} of {cores * wall:.0f} available ({cores} cores)")  # fmt: skip
    return rate


# --- realtime fan-out ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def publish_events(workspace_id: int, count: int, per_transaction: int, out: str) -> None:
    """Publisher process (a worker): commit `count` events, write {n: commit time} to `out`."""
    from django.db import transaction

    from cpaas.realtime import publish, workspace_group

    group = workspace_group(workspace_id, "contacts")
    committed = {}
    for first in range(0, count, per_transaction):
        numbers = range(first, min(first + per_transaction, count))
        with transaction.atomic():
            for n in numbers:
                publish(group, {"type": "bench", "n": n})
        committed.update(dict.fromkeys(numbers, time.time()))
    Path(out).write_text(json.dumps(committed))


async def receive(url, session_id, expected, ready, quiet_s=3.0):
    import aiohttp

    arrived: dict[int, list[float]] = {}
    async with (
        aiohttp.ClientSession(cookies={"sessionid": session_id}) as http,
        http.ws_connect(url, headers={"Origin": url.replace("ws://", "http://").split("/ws/")[0]}, max_msg_size=0) as ws,
    ):  # fmt: skip
        hello = await ws.receive_json(timeout=30)
        assert hello["type"] == "hello", hello
        ready()
        while sum(map(len, arrived.values())) < expected:
            try:
                message = await ws.receive(timeout=quiet_s if arrived else 120)
            except TimeoutError:
                break
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            at, payload = time.time(), json.loads(message.data)
            if payload.get("type") == "bench":
                arrived.setdefault(payload["n"], []).append(at)
    return arrived


def pct(values, p):
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1] if len(values) > 1 else values[0]


def realtime(sockets=20, events=2000, per_transaction=10):
    from django.contrib.auth import get_user_model
    from django.test import Client

    from cpaas.models import Membership

    ws, _ = workspace("Bench realtime")
    user = get_user_model().objects.create_user(
        username=f"bench-rt-{uuid.uuid4().hex[:6]}", password=uuid.uuid4().hex
    )
    Membership.objects.create(workspace=ws, user=user, role="admin")
    client = Client()
    client.force_login(user)
    client.get("/contacts/")  # the session names the active workspace
    session_id = client.cookies["sessionid"].value
    ports = [free_port(), free_port()]
    webs = [start("-m", "daphne", "-b", "127.0.0.1", "-p", str(p), "cpaas.asgi:application") for p in ports]
    out = Path(f"/tmp/bench-scale-{uuid.uuid4().hex[:6]}.json")
    try:
        for port in ports:
            if not wait_until(lambda p=port: _listening(p), timeout=60, every=0.1):
                raise SystemExit("a web process did not start")

        async def run():
            connected = []
            tasks = [asyncio.create_task(receive(f"ws://127.0.0.1:{ports[i % 2]}/ws/live/?topics=contacts",
                                                 session_id, events, lambda: connected.append(1)))
                     for i in range(sockets)]  # fmt: skip
            while len(connected) < sockets:
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)
            started = time.time()
            publisher = subprocess.Popen([PY, __file__, "--publish", str(ws.pk), str(events), str(per_transaction), str(out)],
                                         cwd=ROOT, env=ENV)  # fmt: skip
            while publisher.poll() is None:
                await asyncio.sleep(0.05)
            published_s = time.time() - started
            return published_s, await asyncio.gather(*tasks)

        published_s, results = asyncio.run(run())
    finally:
        common.stop(webs)
    committed = {int(n): at for n, at in json.loads(out.read_text()).items()}
    out.unlink()
    lateness, lost, duplicated = [], 0, 0
    for arrived in results:
        lateness += [arrived[n][0] - at for n, at in committed.items() if n in arrived]
        lost += sum(1 for n in committed if n not in arrived)
        duplicated += sum(len(t) - 1 for t in arrived.values())
    print(f"  {events:,} events ({per_transaction} per transaction, {events / published_s:,.0f}/s committed) to {sockets} "
          f"sockets on 2 web processes = {events * sockets:,} deliveries")  # fmt: skip
    if lateness:
        print(f"  lateness after commit: p50 {pct(lateness, 50) * 1000:.0f} ms, p95 {pct(lateness, 95) * 1000:.0f} ms, "
              f"max {max(lateness) * 1000:.0f} ms; lost {lost}, duplicated {duplicated}")  # fmt: skip


def _listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def main():
    if sys.argv[1:2] == ["--publish"]:
        setup_django()
        publish_events(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
        return
    parts = sys.argv[1:] or ["engine", "realtime"]
    import redis

    try:
        redis.Redis.from_url(REDIS, socket_connect_timeout=2).ping()
    except redis.RedisError:
        raise SystemExit(
            f"no redis-server at {REDIS}: start one (bash scripts/provision.sh) or set BENCH_REDIS_URL"
        ) from None
    common.recreate_database(URL, ENV)
    setup_django()
    insert_rate = common.raw_insert_rate(URL)
    print(f"raw PostgreSQL INSERT (autocommit, 1 connection): {insert_rate:,.0f}/s")
    if "engine" in parts:
        print(f"engine end to end, {CONTACTS:,} contacts per run (PostgreSQL + Redis):")
        for engines, dispatchers in CONFIGS:
            engine_run(engines, dispatchers, insert_rate)
    if "realtime" in parts:
        print("realtime fan-out, 2 web processes (Redis channel layer):")
        realtime()
    print(f"raw PostgreSQL INSERT again at the end: {common.raw_insert_rate(URL):,.0f}/s")


if __name__ == "__main__":
    main()
