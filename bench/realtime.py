"""Realtime lateness in embedded mode (the relay): a burst of events committed by publisher
processes, received by a websocket subscribed through the real `manage.py serve` (daphne), on
the DATABASE_URL database. Prints p50 / p95 / max of (received - committed) and counts lost and
duplicated events. Figures only.

    .venv/bin/python bench/realtime.py                       # SQLite (a throwaway file)
    DATABASE_URL=postgres://cpaas:cpaas@127.0.0.1:5432/cpaas .venv/bin/python bench/realtime.py
    .venv/bin/python bench/realtime.py --events 10000 --publishers 2 --per-transaction 10

Each publisher commits its share in small transactions through `cpaas.realtime.publish` and
notes the wall-clock time of each commit; the socket notes when each event arrives. Both run on
this machine, so their clocks agree. Works in a throwaway workspace that it deletes at the end.
"""

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
if "DATABASE_URL" not in os.environ:
    os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.gettempdir()}/bench-realtime.sqlite3"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cpaas.settings.dev")
os.environ.setdefault("DEBUG", "false")
os.environ.pop("REDIS_URL", None)  # embedded mode: the relay

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402


def publish_share(workspace_id: int, first: int, count: int, per_transaction: int, out: str) -> None:
    """Publisher process: commit events first..first+count-1, write {n: commit time} to `out`."""
    from cpaas.realtime import publish, workspace_group

    group = workspace_group(workspace_id, "contacts")
    committed = {}
    for start in range(first, first + count, per_transaction):
        numbers = range(start, min(start + per_transaction, first + count))
        with transaction.atomic():
            for n in numbers:
                publish(group, {"type": "bench", "n": n})
        at = time.time()
        committed.update(dict.fromkeys(numbers, at))
    Path(out).write_text(json.dumps(committed))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def setup_workspace():
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from cpaas.models import Membership, Workspace

    call_command("migrate", verbosity=0)
    tag = uuid.uuid4().hex[:8]
    workspace = Workspace.objects.create(name=f"bench realtime {tag}", slug=f"bench-rt-{tag}")
    user = get_user_model().objects.create_user(username=f"bench-rt-{tag}", password=uuid.uuid4().hex)
    Membership.objects.create(workspace=workspace, user=user, role="admin")
    client = Client()
    client.force_login(user)
    client.get("/contacts/")  # the session names the active workspace, as a page visit does
    return workspace, user, client.cookies["sessionid"].value


async def receive(url: str, session_id: str, expected: int, ready: asyncio.Event, quiet_s: float = 3.0):
    import aiohttp

    arrived: dict[int, list[float]] = {}
    headers = {"Origin": url.replace("ws://", "http://").split("/ws/")[0]}
    async with (
        aiohttp.ClientSession(cookies={"sessionid": session_id}) as http,
        http.ws_connect(url, headers=headers, max_msg_size=0) as ws,
    ):
        hello = await ws.receive_json(timeout=10)
        assert hello["type"] == "hello" and hello["groups"] == 1, hello
        ready.set()
        while sum(map(len, arrived.values())) < expected:
            try:
                message = await ws.receive(timeout=quiet_s if arrived else 60)
            except TimeoutError:
                break  # nothing for a while: the rest is lost
            at = time.time()
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            payload = json.loads(message.data)
            if payload.get("type") == "bench":
                arrived.setdefault(payload["n"], []).append(at)
        try:  # anything arriving twice comes soon after
            while True:
                message = await ws.receive(timeout=0.5)
                payload = json.loads(message.data)
                if payload.get("type") == "bench":
                    arrived.setdefault(payload["n"], []).append(time.time())
        except (TimeoutError, TypeError, ValueError):
            pass
    return arrived


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1] if len(values) > 1 else values[0]


async def main_async(args, workspace, session_id) -> None:
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "serve", "--no-worker", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    tmp = Path(tempfile.mkdtemp(prefix="bench-realtime-"))
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("the server did not start") from None
                await asyncio.sleep(0.1)
        ready = asyncio.Event()
        url = f"ws://127.0.0.1:{port}/ws/live/?topics=contacts"
        receiver = asyncio.create_task(receive(url, session_id, args.events, ready))
        await asyncio.wait_for(ready.wait(), 20)
        await asyncio.sleep(0.5)  # the relay has started and read its position
        share = args.events // args.publishers
        outs = [tmp / f"published-{i}.json" for i in range(args.publishers)]
        started = time.time()
        publishers = [
            subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--publish",
                    str(workspace.pk),
                    str(i * share),
                    str(share),
                    str(args.per_transaction),
                    str(outs[i]),
                ],
                cwd=ROOT,
                env=env,
            )  # fmt: skip
            for i in range(args.publishers)
        ]
        while any(p.poll() is None for p in publishers):
            await asyncio.sleep(0.05)
        published_s = time.time() - started
        arrived = await receiver
    finally:
        server.terminate()
        server.wait(timeout=30)
    committed = {int(n): at for out in outs for n, at in json.loads(out.read_text()).items()}
    lateness = [arrived[n][0] - at for n, at in committed.items() if n in arrived]
    lost = sum(1 for n in committed if n not in arrived)
    duplicated = sum(len(times) - 1 for times in arrived.values())
    print(
        f"{connection.vendor}: {len(committed)} events from {args.publishers} publishers "
        f"({args.per_transaction} per transaction) committed in {published_s:.1f} s "
        f"({len(committed) / published_s:.0f}/s)"
    )
    if lateness:
        print(
            f"  lateness after commit: p50 {pct(lateness, 50) * 1000:.0f} ms, "
            f"p95 {pct(lateness, 95) * 1000:.0f} ms, max {max(lateness) * 1000:.0f} ms; "
            f"later than 1 s: {sum(1 for x in lateness if x > 1.0)}"
        )
    print(f"  lost {lost}, duplicated {duplicated}")
    if os.environ.get("BENCH_TRACE"):
        ordered = sorted((at, arrived[n][0] - at) for n, at in committed.items() if n in arrived)
        for i in range(0, len(ordered), max(1, len(ordered) // 20)):
            print(f"    t+{ordered[i][0] - ordered[0][0]:6.2f} s  late {ordered[i][1] * 1000:6.0f} ms")


def main() -> None:
    if sys.argv[1:2] == ["--publish"]:
        workspace_id, first, count, per_transaction, out = sys.argv[2:7]
        publish_share(int(workspace_id), int(first), int(count), int(per_transaction), out)
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=10000)
    parser.add_argument("--publishers", type=int, default=2)
    parser.add_argument("--per-transaction", type=int, default=10)
    args = parser.parse_args()
    workspace, user, session_id = setup_workspace()
    try:
        asyncio.run(main_async(args, workspace, session_id))
    finally:
        workspace.delete()
        user.delete()


if __name__ == "__main__":
    main()
