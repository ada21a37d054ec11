"""The agent inbox under load (issue 13), on the DATABASE_URL database. Figures only.

    .venv/bin/python bench/inbox.py                       # SQLite (a throwaway file)
    DATABASE_URL=postgres://cpaas:cpaas@127.0.0.1:5432/cpaas .venv/bin/python bench/inbox.py
    .venv/bin/python bench/inbox.py latency burst --redis-port 6391   # also the Redis mode

Parts (all by default; name some to run only those):

- `raw`: the yardstick, single-row INSERTs per second (autocommit), measured in the same run;
- `latency`: a signed sandbox inbound webhook (HTTP, through the real `manage.py serve`) from a
  new number, to the `inbox.conversation` event on an agent's websocket: p50 / p95 / max, in
  embedded mode (the relay) and, with `--redis-port`, in Redis mode (a private redis-server);
- `list`: the inbox list's server time over `--conversations` conversations and `--messages`
  messages (100,000 and 1,000,000 by default) for the common filters, for an agent of two
  queues and for a supervisor, with the number of queries: the /inbox/ page through the test
  client when it exists, else the selector and unread markers the page uses;
- `burst`: `--rate` inbound messages per second (1,000) for `--seconds` (10) from publisher
  processes running the inbound pipeline (what the webhook view runs, without HTTP), with
  `--agents` (20) agents' websockets open in receiver processes: every event delivered to every
  agent, lateness after commit, how many later than 1 s. The pipeline's own rate on this
  machine is below 1,000/s (about 60 queries per inbound message), so the figure says what rate
  it reached;
- `fanout`: the same burst of the inbox's realtime events alone (`inbox.live`'s payload to the
  queue's group, one per transaction, from publisher processes) at `--rate` for `--seconds`, to
  the `--agents` sockets: what the realtime path delivers at 1,000 events/s.

Clocks: publishers, receivers and the server run on this machine, so their clocks agree. Works
in throwaway workspaces that it deletes at the end (the list data set is kept with
`--keep-list-data` to rerun only `list`).
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
    os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.gettempdir()}/bench-inbox.sqlite3"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cpaas.settings.dev")
os.environ.setdefault("DEBUG", "false")

import django  # noqa: E402

django.setup()

import logging  # noqa: E402

from django.db import connection, transaction  # noqa: E402

logging.getLogger("axes").setLevel(logging.WARNING)

LIST_SLUG = "bench-inbox-list"


def pct(values, p):
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1] if len(values) > 1 else values[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raw_inserts_per_second(n: int = 3000) -> float:
    """Single-row INSERTs, each its own transaction (autocommit), on the same database."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS bench_inbox_raw (id serial PRIMARY KEY, v text)"
            if connection.vendor == "postgresql"
            else "CREATE TABLE IF NOT EXISTS bench_inbox_raw (id INTEGER PRIMARY KEY, v text)"
        )
        start = time.perf_counter()
        for i in range(n):
            cursor.execute("INSERT INTO bench_inbox_raw (v) VALUES (%s)", [f"row {i}"])
        elapsed = time.perf_counter() - start
        cursor.execute("DROP TABLE bench_inbox_raw")
    return n / elapsed


# --- a workspace with agents in the support queue -------------------------------------------------


def setup_workspace(agents: int):
    from django.contrib.auth import get_user_model
    from django.test import Client

    from cpaas.models import Membership, Workspace
    from inbox.models import InboxSettings, Queue, QueueMember

    tag = uuid.uuid4().hex[:8]
    workspace = Workspace.objects.create(name=f"bench inbox {tag}", slug=f"bench-inbox-{tag}")
    queue = Queue.objects.create(workspace=workspace, name="support", label="Support")
    InboxSettings.objects.update_or_create(workspace=workspace, defaults={"default_queue": queue})
    sessions, users = [], []
    for i in range(agents):
        user = get_user_model().objects.create_user(
            username=f"bench-inbox-{tag}-{i}", password=uuid.uuid4().hex
        )
        Membership.objects.create(workspace=workspace, user=user, role="agent")
        QueueMember.objects.create(queue=queue, user=user)
        client = Client()
        client.force_login(user)
        client.get("/inbox/")  # the session names the active workspace, as a page visit does
        sessions.append(client.cookies["sessionid"].value)
        users.append(user)
    return workspace, users, sessions


def drop_workspace(workspace, users) -> None:
    from cpaas.models import Workspace
    from inbox.models import Conversation

    Conversation.objects.filter(workspace=workspace).delete()  # the queues are protected by them
    Workspace.objects.filter(pk=workspace.pk).delete()
    for user in users:
        user.delete()


def sandbox_sms(workspace):
    from channels_app.models import Channel

    channel = Channel.objects.get(workspace=workspace, kind="sms", provider="sandbox")
    return channel


def signed(channel, phone: str, text: str) -> tuple[str, bytes, dict]:
    from channels_app.providers.sandbox import SIGNATURE_HEADER, sign

    body = json.dumps(
        {"id": "bench-" + uuid.uuid4().hex[:16], "from": phone, "to": channel.address, "text": text,
         "button": "", "digits": "", "at": ""}
    ).encode()  # fmt: skip
    return (
        f"/webhooks/sandbox/{channel.webhook_token}/inbound/",
        body,
        {SIGNATURE_HEADER: sign(channel.credentials.get("secret", ""), body)},
    )


def phone(n: int, block: int) -> str:
    return f"+447{block:03d}{n:06d}"


class Server:
    """`manage.py serve --no-worker` on a free port (daphne with the dispatcher and the engine)."""

    def __init__(self, env: dict):
        self.port = free_port()
        self.log = Path(tempfile.mkstemp(prefix="bench-inbox-serve-", suffix=".log")[1])
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "serve", "--no-worker", "--port", str(self.port)],
            cwd=ROOT, env=env, stdout=self.log.open("w"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 40
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("the server did not start") from None
                time.sleep(0.1)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


async def agent_socket(port: int, session_id: str, arrived: dict, ready: asyncio.Event, stop: asyncio.Event):
    """One agent's websocket on topic inbox: note the first arrival of each conversation."""
    import aiohttp

    url = f"ws://127.0.0.1:{port}/ws/live/?topics=inbox"
    async with (
        aiohttp.ClientSession(cookies={"sessionid": session_id}) as http,
        http.ws_connect(url, headers={"Origin": f"http://127.0.0.1:{port}"}, max_msg_size=0) as ws,
    ):
        hello = await ws.receive_json(timeout=20)
        assert hello["type"] == "hello" and hello["groups"] >= 1, hello
        ready.set()
        while not stop.is_set():
            try:
                message = await ws.receive(timeout=0.5)
            except TimeoutError:
                continue
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            at = time.time()
            payload = json.loads(message.data)
            if payload.get("type") == "inbox.conversation":
                arrived.setdefault(payload["conversation_id"], at)


def conversation_phones(workspace) -> dict[int, str]:
    from inbox.models import Conversation

    return dict(Conversation.objects.filter(workspace=workspace).values_list("pk", "contact__phone"))


# --- latency: webhook to websocket ----------------------------------------------------------------


async def latency_async(port, session_id, channel, n: int, per_second: float) -> dict[str, float]:
    import aiohttp

    arrived: dict = {}
    ready, stop = asyncio.Event(), asyncio.Event()
    receiver = asyncio.create_task(agent_socket(port, session_id, arrived, ready, stop))
    await asyncio.wait_for(ready.wait(), 30)
    sent: dict[str, float] = {}
    answered: list[float] = []
    failures = 0
    block = uuid.uuid4().int % 800 + 100
    async with aiohttp.ClientSession() as http:
        for i in range(5):  # warm-up (the first requests load code, the relay reads its position)
            path, body, headers = signed(channel, phone(i, block + 1), "warm-up")
            async with http.post(f"http://127.0.0.1:{port}{path}", data=body, headers=headers):
                pass
        await asyncio.sleep(1.0)
        start = time.time()
        for i in range(n):
            await asyncio.sleep(max(0.0, start + i / per_second - time.time()))
            number = phone(i, block)
            path, body, headers = signed(channel, number, f"hello {i}")
            sent[number] = time.time()
            async with http.post(f"http://127.0.0.1:{port}{path}", data=body, headers=headers) as response:
                if response.status != 200:
                    failures += 1
            answered.append(time.time() - sent[number])
    deadline = time.time() + 10
    while len(arrived) < n - failures and time.time() < deadline:
        await asyncio.sleep(0.1)
    stop.set()
    await receiver
    return {"sent": sent, "arrived": arrived, "failures": failures, "answered": answered}


def run_latency(args, mode: str, env: dict) -> None:
    workspace, users, sessions = setup_workspace(1)
    server = Server(env)
    try:
        result = asyncio.run(
            latency_async(server.port, sessions[0], sandbox_sms(workspace), args.latency_n, args.latency_rate)
        )
    finally:
        server.stop()
    phones = conversation_phones(workspace)
    lateness = [
        at - result["sent"][phones[pk]]
        for pk, at in result["arrived"].items()
        if phones.get(pk) in result["sent"]
    ]
    lost = len(result["sent"]) - result["failures"] - len(lateness)
    drop_workspace(workspace, users)
    if not lateness:
        print(f"  {mode}: nothing arrived ({result['failures']} webhooks failed); the server's log ends:")
        print(server.log.read_text()[-3000:])
        return
    print(
        f"  {mode}: {len(lateness)} webhooks at {args.latency_rate:g}/s -> agent's websocket: "
        f"p50 {pct(lateness, 50) * 1000:.0f} ms, p95 {pct(lateness, 95) * 1000:.0f} ms, max {max(lateness) * 1000:.0f} ms; "
        f"lost {lost}, webhook errors {result['failures']}"
    )
    answered = result["answered"]
    print(
        f"    of which the webhook's own answer (the inbound pipeline's transaction): p50 "
        f"{pct(answered, 50) * 1000:.0f} ms, p95 {pct(answered, 95) * 1000:.0f} ms"
    )


# --- burst: inbound pipeline from publisher processes, 20 agents connected --------------------------


def publish_events(
    workspace_id: int, first: int, count: int, rate: float, start_at: float, out: str, per_tx: int = 1
) -> None:
    """Publisher process for `fanout`: `count` inbox events (the payload inbox.live sends) to the
    support queue's agents at `rate`/s, one per transaction as services send them; {n: commit time}."""
    from cpaas.realtime import publish, workspace_group
    from inbox.live import EVENT, queue_topic
    from inbox.models import Queue

    group = workspace_group(
        workspace_id, queue_topic(Queue.objects.get(workspace_id=workspace_id, name="support").pk)
    )
    committed = {}
    while time.time() < start_at:
        time.sleep(0.005)
    for i in range(0, count, per_tx):
        delay = start_at + i / rate - time.time()
        if delay > 0:
            time.sleep(delay)
        numbers = range(first + i, first + min(i + per_tx, count))
        with transaction.atomic():
            for n in numbers:
                publish(group, {"type": EVENT, "event_id": uuid.uuid4().hex, "what": "message", "conversation_id": n,
                                "number": n, "status": "open", "priority": "normal", "assignee_id": None})  # fmt: skip
        at = time.time()
        committed.update({str(n): at for n in numbers})
    Path(out).write_text(json.dumps(committed))


def publish_share(workspace_id: int, block: int, count: int, rate: float, start_at: float, out: str) -> None:
    """Publisher process: `count` inbound messages from new numbers at `rate`/s from `start_at`,
    each through the inbound pipeline in its own transaction; {phone: commit time} to `out`."""
    from channels_app.models import Channel
    from channels_app.providers.base import WebhookRequest
    from channels_app.webhooks import inbound_process

    channel = Channel.objects.get(workspace_id=workspace_id, kind="sms", provider="sandbox")
    committed = {}
    while time.time() < start_at:
        time.sleep(0.005)
    for i in range(count):
        delay = start_at + i / rate - time.time()
        if delay > 0:
            time.sleep(delay)
        number = phone(i, block)
        path, body, headers = signed(channel, number, f"burst {i}")
        inbound_process(
            channel, WebhookRequest(method="POST", url=path, headers=headers, body=body, form={}, query={})
        )
        committed[number] = time.time()
    Path(out).write_text(json.dumps(committed))


def receive_share(port: int, sessions: list[str], seconds: float, out: str) -> None:
    """Receiver process: these agents' sockets until the file `out`.stop appears (at most
    `seconds`); {agent: {conversation: arrival}}."""

    async def main():
        arrived = [dict() for _ in sessions]
        readies = [asyncio.Event() for _ in sessions]
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(agent_socket(port, s, a, r, stop))
            for s, a, r in zip(sessions, arrived, readies, strict=True)
        ]
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 60)
        Path(out + ".ready").write_text("1")
        deadline = time.time() + seconds
        while time.time() < deadline and not Path(out + ".stop").exists():
            await asyncio.sleep(0.2)
        stop.set()
        await asyncio.gather(*tasks)
        return arrived

    arrived = asyncio.run(main())
    Path(out).write_text(json.dumps([{str(k): v for k, v in a.items()} for a in arrived]))


def run_burst(args, mode: str, env: dict, fanout: bool = False) -> None:
    workspace, users, sessions = setup_workspace(args.agents)
    tmp = Path(tempfile.mkdtemp(prefix="bench-inbox-"))
    server = Server(env)
    total = int(args.rate * args.seconds)
    publishers = args.publishers
    receivers = max(1, min(4, args.agents // 5))
    try:
        listen_s = 3600
        recv_outs = [str(tmp / f"recv-{i}.json") for i in range(receivers)]
        groups = [sessions[i::receivers] for i in range(receivers)]
        recv = [
            subprocess.Popen([sys.executable, __file__, "--receive", str(server.port), json.dumps(g), str(listen_s), o], cwd=ROOT, env=env)
            for g, o in zip(groups, recv_outs, strict=True)
        ]  # fmt: skip
        deadline = time.time() + 90
        while not all(Path(o + ".ready").exists() for o in recv_outs):
            if time.time() > deadline:
                raise SystemExit("the agents' sockets did not connect")
            time.sleep(0.1)
        time.sleep(1.0)
        start_at = time.time() + 2.0
        pub_outs = [str(tmp / f"pub-{i}.json") for i in range(publishers)]
        share = total // publishers
        pubs = [
            subprocess.Popen([sys.executable, __file__, "--events" if fanout else "--publish", str(workspace.pk),
                              str(i * share if fanout else 100 + i), str(share), str(args.rate / publishers),
                              str(start_at), o] + ([str(args.per_transaction)] if fanout else []), cwd=ROOT, env=env)
            for i, o in enumerate(pub_outs)
        ]  # fmt: skip
        for p in pubs:
            p.wait()
        published_s = time.time() - start_at
        time.sleep(5)  # what is still on its way
        for o in recv_outs:
            Path(o + ".stop").write_text("1")
        for p in recv:
            p.wait()
    finally:
        server.stop()
    committed = {k: v for o in pub_outs for k, v in json.loads(Path(o).read_text()).items()}
    phones = {} if fanout else conversation_phones(workspace)
    per_agent = [a for o in recv_outs for a in json.loads(Path(o).read_text())]
    lateness, missing = [], 0
    for agent in per_agent:
        seen = agent if fanout else {phones.get(int(pk)): at for pk, at in agent.items()}
        for number, at in committed.items():
            if number in seen:
                lateness.append(seen[number] - at)
            else:
                missing += 1
    drop_workspace(workspace, users)
    what = "inbox events published" if fanout else "inbound messages committed"
    print(
        f"  {mode}: {len(committed)} {what} in {published_s:.1f} s "
        f"({len(committed) / published_s:.0f}/s asked {args.rate:g}/s) by {publishers} publishers; "
        f"{len(per_agent)} agents connected"
    )
    if lateness:
        print(
            f"    events delivered {len(lateness)} of {len(committed) * len(per_agent)} (missing {missing}); "
            f"lateness after commit p50 {pct(lateness, 50) * 1000:.0f} ms, p95 {pct(lateness, 95) * 1000:.0f} ms, "
            f"max {max(lateness) * 1000:.0f} ms; later than 1 s: {sum(1 for x in lateness if x > 1.0)}"
        )


# --- list: server time over a big inbox ---------------------------------------------------------------


def build_list_data(n_conv: int, n_msg: int):
    """A workspace of `n_conv` conversations (one contact each, 5 queues, a fifth not resolved)
    and `n_msg` messages spread over them, inserted in batches (COPY on PostgreSQL)."""
    import datetime as dt
    import random

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from channels_app.models import Channel, Message
    from contacts.models import Contact
    from cpaas.bulk import insert_rows
    from cpaas.models import Membership, Workspace
    from inbox.models import Conversation, Queue, QueueMember

    existing = Workspace.objects.filter(slug=LIST_SLUG).first()
    if existing and Conversation.objects.filter(workspace=existing).count() == n_conv:
        return existing
    if existing:
        Conversation.objects.filter(workspace=existing).delete()
        existing.delete()
    rnd = random.Random(13)
    now = timezone.now()
    workspace = Workspace.objects.create(name="bench inbox list", slug=LIST_SLUG)
    User = get_user_model()
    agent = User.objects.filter(username="bench-inbox-list-agent").first() or User.objects.create_user(
        username="bench-inbox-list-agent", password=uuid.uuid4().hex
    )
    admin = User.objects.filter(username="bench-inbox-list-admin").first() or User.objects.create_user(
        username="bench-inbox-list-admin", password=uuid.uuid4().hex
    )
    Membership.objects.create(workspace=workspace, user=agent, role="agent")
    Membership.objects.create(workspace=workspace, user=admin, role="admin")
    queues = [Queue.objects.create(workspace=workspace, name=f"q{i}", first_response_s=900) for i in range(5)]
    for q in queues[:2]:
        QueueMember.objects.create(queue=q, user=agent)
    channel = Channel.objects.get(workspace=workspace, kind="sms", provider="sandbox")
    words = "pay payment tomorrow balance account card help please refund debt plan week invoice call".split()
    batch = 20_000
    per_conv = max(1, n_msg // n_conv)
    started = time.perf_counter()
    for first in range(0, n_conv, batch):
        count = min(batch, n_conv - first)
        with transaction.atomic():
            contacts = insert_rows(Contact, [
                Contact(workspace=workspace, first_name=f"Name{first + i}", last_name="Bench",
                        phone=f"+4478{first + i:08d}", email=f"c{first + i}@example.com",
                        created_at=now, updated_at=now)
                for i in range(count)
            ])  # fmt: skip
            convs = []
            for i, contact in enumerate(contacts):
                n = first + i
                opened = now - dt.timedelta(minutes=rnd.randint(1, 60 * 24 * 30))
                resolved = n % 5 != 0
                convs.append(Conversation(
                    workspace=workspace, number=n + 1, contact=contact, queue=queues[n % 5],
                    status="resolved" if resolved else rnd.choice(["open", "open", "open", "pending", "snoozed"]),
                    priority=rnd.choice(["low", "normal", "normal", "high", "urgent"]),
                    assignee=agent if n % 7 == 0 else (admin if n % 11 == 0 else None),
                    opened_at=opened, created_at=opened, last_message_at=opened + dt.timedelta(minutes=5),
                    waiting_since=None if resolved or n % 3 == 0 else opened,
                    first_response_at=opened + dt.timedelta(minutes=rnd.randint(1, 60)) if n % 3 == 0 or resolved else None,
                    first_response_due_at=opened + dt.timedelta(minutes=15),
                    resolved_at=opened + dt.timedelta(hours=2) if resolved else None,
                    last_inbound_kind=rnd.choice(["sms", "sms", "whatsapp", "email"]), last_inbound_at=opened,
                ))  # fmt: skip
            insert_rows(Conversation, convs)
            messages = []
            for conv in convs:
                for j in range(per_conv):
                    at = conv.opened_at + dt.timedelta(seconds=30 * j)
                    messages.append(Message(
                        workspace=workspace, contact_id=conv.contact_id, channel=channel, kind="sms",
                        direction="in" if j % 2 == 0 else "out", address=conv.contact.phone,
                        text=" ".join(rnd.choice(words) for _ in range(8)), status="received" if j % 2 == 0 else "delivered",
                        status_changed_at=at, created_at=at, reference=uuid.uuid4().hex,
                    ))  # fmt: skip
            insert_rows(Message, messages)
        print(f"    built {first + count:,} conversations, {(first + count) * per_conv:,} messages "
              f"({time.perf_counter() - started:.0f} s)", flush=True)  # fmt: skip
    from inbox.models import InboxSettings

    InboxSettings.objects.update_or_create(workspace=workspace, defaults={"last_number": n_conv})
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return workspace


LIST_FILTERS = [
    ("all active (default)", {}),
    ("mine", {"mine": "1"}),
    ("unassigned", {"unassigned": "1"}),
    ("queue", {"queue": "QUEUE"}),
    ("status=open", {"status": "open"}),
    ("channel=whatsapp", {"channel": "whatsapp"}),
    ("priority=urgent", {"priority": "urgent"}),
    ("SLA breached", {"breached": "1"}),
    ("search a name", {"q": "Name12345"}),
    ("search message text", {"q": "refund"}),
    ("search #number", {"q": "#4242"}),
]


def run_list(args) -> None:
    from django.contrib.auth import get_user_model
    from django.db import reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import NoReverseMatch, reverse
    from django.utils import timezone

    from inbox.models import Queue
    from inbox.selectors import Viewer, conversation_list, unread

    print(
        f"  building {args.conversations:,} conversations and {args.messages:,} messages (reused when present)...",
        flush=True,
    )
    workspace = build_list_data(args.conversations, args.messages)
    User = get_user_model()
    agent, admin = (
        User.objects.get(username="bench-inbox-list-agent"),
        User.objects.get(username="bench-inbox-list-admin"),
    )
    queue_id = str(Queue.objects.get(workspace=workspace, name="q1").pk)
    try:
        page_url = reverse("inbox")
    except NoReverseMatch:
        page_url = None
    print(
        f"  list ({'GET ' + page_url + ' through the test client' if page_url else 'conversation_list + unread, first 50'}), median of 5:"
    )
    for who, user, role in (("agent of 2 queues", agent, "agent"), ("supervisor", admin, "admin")):
        client = None
        if page_url:
            client = Client()
            client.force_login(user)
            client.get("/inbox/")
        for label, filters in LIST_FILTERS:
            filters = {k: (queue_id if v == "QUEUE" else v) for k, v in filters.items()}
            if role == "admin" and label == "mine":
                continue
            times, queries = [], 0
            for _ in range(5):
                reset_queries()
                with CaptureQueriesContext(connection) as captured:
                    start = time.perf_counter()
                    if client is not None:
                        response = client.get(page_url, filters)
                        assert response.status_code == 200, response.status_code
                    else:
                        viewer = Viewer.for_member(workspace, user, role)
                        page = list(
                            conversation_list(viewer, filters=filters, now=timezone.now()).select_related(
                                "contact", "queue", "assignee"
                            )[:50]
                        )
                        unread(viewer, page)
                    times.append(time.perf_counter() - start)
                queries = len(captured)
            print(f"    {who:18} {label:24} {statistics.median(times) * 1000:7.0f} ms  {queries:3d} queries")
    if not args.keep_list_data:
        from cpaas.models import Workspace
        from inbox.models import Conversation

        Conversation.objects.filter(workspace=workspace).delete()
        Workspace.objects.filter(slug=LIST_SLUG).delete()
        User.objects.filter(pk__in=[agent.pk, admin.pk]).delete()


# --- main -----------------------------------------------------------------------------------------


def main() -> None:
    if sys.argv[1:2] == ["--publish"]:
        workspace_id, block, count, rate, start_at, out = sys.argv[2:8]
        publish_share(int(workspace_id), int(block), int(count), float(rate), float(start_at), out)
        return
    if sys.argv[1:2] == ["--events"]:
        workspace_id, first, count, rate, start_at, out, per_tx = sys.argv[2:9]
        publish_events(
            int(workspace_id), int(first), int(count), float(rate), float(start_at), out, int(per_tx)
        )
        return
    if sys.argv[1:2] == ["--receive"]:
        port, sessions, seconds, out = sys.argv[2:6]
        receive_share(int(port), json.loads(sessions), float(seconds), out)
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("parts", nargs="*", default=["raw", "latency", "list", "burst", "fanout"])
    parser.add_argument("--redis-port", type=int, default=0, help="also run latency and burst with Redis")
    parser.add_argument("--latency-n", type=int, default=200)
    parser.add_argument("--latency-rate", type=float, default=20.0)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--keep-list-data", action="store_true")
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--publishers", type=int, default=4)
    parser.add_argument(
        "--per-transaction",
        type=int,
        default=1,
        help="fanout: events per transaction (1: as services publish)",
    )
    args = parser.parse_args()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    print(f"{connection.vendor}, load average {os.getloadavg()[0]:.1f}")
    print(f"raw single-row INSERT (autocommit): {raw_inserts_per_second():,.0f} rows/s")
    embedded = {k: v for k, v in os.environ.items() if k != "REDIS_URL"} | {"PYTHONUNBUFFERED": "1"}
    modes = [("embedded", embedded)]
    if args.redis_port:
        modes.append(("redis", {**embedded, "REDIS_URL": f"redis://127.0.0.1:{args.redis_port}/0"}))
    if "latency" in args.parts:
        print("inbound webhook -> agent's websocket:")
        for mode, env in modes:
            run_latency(args, mode, env)
    if "list" in args.parts:
        run_list(args)
    if "burst" in args.parts:
        print(f"burst: {args.rate:g} inbound/s for {args.seconds:g} s, {args.agents} agents connected:")
        for mode, env in modes:
            run_burst(args, mode, env)
    if "fanout" in args.parts:
        print(
            f"fan-out: {args.rate:g} inbox events/s for {args.seconds:g} s to {args.agents} agents, "
            f"{args.per_transaction} per transaction (the realtime path alone):"
        )
        for mode, env in modes:
            run_burst(args, mode, env, fanout=True)
    print(f"raw single-row INSERT (autocommit), after: {raw_inserts_per_second():,.0f} rows/s")


if __name__ == "__main__":
    main()
