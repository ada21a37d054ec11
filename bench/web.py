"""Web throughput and latency under concurrent clients, through the real `manage.py serve`
(daphne, with the worker, dispatcher and engine beside it) on the DATABASE_URL database.
Prints requests/s, p50 and p95 per request kind and the count of errors (any answer other than
2xx). Figures only.

    .venv/bin/python bench/web.py                                 # SQLite (a throwaway file)
    DATABASE_URL=postgres://cpaas:cpaas@127.0.0.1:5432/bench_web .venv/bin/python bench/web.py
    .venv/bin/python bench/web.py --clients 16 64 --seconds 20

The mix, round robin per client: API contacts list, API contact detail, API messages list, a
single event POST (API, token auth), and the contacts list, a contact's page and the messages
list as pages (session of a logged-in admin). The per-token API throttle is lifted for the run
(API_TOKEN_RATE), so what is measured is the server, not the throttle. Works in a throwaway
workspace (2,000 contacts, 2,000 messages) that it deletes at the end.
"""

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
if "DATABASE_URL" not in os.environ:
    os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.gettempdir()}/bench-web.sqlite3"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cpaas.settings.dev")
os.environ.setdefault("DEBUG", "false")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402


def setup(contacts: int):
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client
    from django.utils import timezone

    from channels_app.services.messages import message_send_batch
    from contacts.models import Contact
    from cpaas.models import Membership, Workspace
    from cpaas.services import api_token_create
    from cpaas.tenancy import Actor

    call_command("migrate", verbosity=0)
    tag = uuid.uuid4().hex[:8]
    workspace = Workspace.objects.create(name=f"bench web {tag}", slug=f"bench-web-{tag}")
    user = get_user_model().objects.create_user(username=f"bench-web-{tag}", password=uuid.uuid4().hex)
    Membership.objects.create(workspace=workspace, user=user, role="admin")
    Contact.objects.bulk_create(
        [
            Contact(workspace=workspace, first_name=f"P{i}", last_name="Bench", phone=f"+447700{i:06d}")
            for i in range(contacts)
        ],
        batch_size=2000,
    )
    people = list(Contact.objects.filter(workspace=workspace))
    message_send_batch(
        workspace=workspace, contacts=people, channel="sms", content={"text": "Hello"}, now=timezone.now()
    )
    _, key = api_token_create(workspace=workspace, actor=Actor.for_user(user), name="bench")
    client = Client()
    client.force_login(user)
    client.get("/contacts/")  # the session names the active workspace
    return workspace, user, key, client.cookies["sessionid"].value, [c.pk for c in people]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def requests_for(base: str, contact_ids: list[int]):
    """(kind, method, url, json body or None, auth) generators, one request at a time."""
    n = 0

    def next_request():
        nonlocal n
        n += 1
        cid = contact_ids[n % len(contact_ids)]
        mix = [
            ("api contacts list", "GET", f"{base}/api/v1/contacts/", None, "token"),
            ("api contact detail", "GET", f"{base}/api/v1/contacts/{cid}/", None, "token"),
            ("api messages list", "GET", f"{base}/api/v1/messages/", None, "token"),
            (
                "api event POST",
                "POST",
                f"{base}/api/v1/events/",
                {"contact": {"id": cid}, "name": "bench_seen", "properties": {"n": n}},
                "token",
            ),  # fmt: skip
            ("page contacts", "GET", f"{base}/contacts/", None, "session"),
            ("page contact", "GET", f"{base}/contacts/{cid}/", None, "session"),
            ("page messages", "GET", f"{base}/messages/", None, "session"),
        ]
        return mix[n % len(mix)]

    return next_request


async def load(base: str, token: str, session_id: str, contact_ids, clients: int, seconds: float):
    import aiohttp

    timings: dict[str, list[float]] = defaultdict(list)
    statuses: dict[str, Counter] = defaultdict(Counter)
    next_request = requests_for(base, contact_ids)
    stop_at = time.monotonic() + seconds

    async def client(http_token, http_session):
        while time.monotonic() < stop_at:
            kind, method, url, body, auth = next_request()
            http = http_token if auth == "token" else http_session
            started = time.perf_counter()
            try:
                async with http.request(method, url, json=body, allow_redirects=False) as response:
                    await response.read()
                    status = response.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                status = type(exc).__name__
            timings[kind].append(time.perf_counter() - started)
            statuses[kind][status] += 1

    timeout = aiohttp.ClientTimeout(total=120)
    connector = aiohttp.TCPConnector(limit=0)
    async with (
        aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            connector=connector,
            connector_owner=False,
        ) as by_token,
        aiohttp.ClientSession(
            cookies={"sessionid": session_id}, timeout=timeout, connector=connector, connector_owner=False
        ) as by_session,
    ):
        started = time.monotonic()
        await asyncio.gather(*(client(by_token, by_session) for _ in range(clients)))
        elapsed = time.monotonic() - started
    await connector.close()
    return timings, statuses, elapsed


def ms(values: list[float], p: int) -> float:
    if len(values) < 2:
        return values[0] * 1000 if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1] * 1000


def report(clients: int, timings, statuses, elapsed: float) -> None:
    everything = [t for values in timings.values() for t in values]
    errors = sum(n for c in statuses.values() for s, n in c.items() if not (isinstance(s, int) and s < 300))
    print(
        f"{connection.vendor}, {clients} clients: {len(everything) / elapsed:.0f} requests/s, "
        f"p50 {ms(everything, 50):.0f} ms, p95 {ms(everything, 95):.0f} ms, errors {errors} of {len(everything)}"
    )
    for kind, values in timings.items():
        bad = {s: n for s, n in statuses[kind].items() if not (isinstance(s, int) and s < 300)}
        print(
            f"  {kind:20} {len(values) / elapsed:6.1f}/s  p50 {ms(values, 50):6.0f} ms  "
            f"p95 {ms(values, 95):6.0f} ms{'  errors ' + str(bad) if bad else ''}"
        )


def postgres_connections() -> str:
    if connection.vendor != "postgresql":
        return ""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return f" (connections to the database now: {cursor.fetchone()[0]})"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--contacts", type=int, default=2000)
    args = parser.parse_args()
    workspace, user, token, session_id, contact_ids = setup(args.contacts)
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "API_TOKEN_RATE": "1000000/min"}
    log = Path(tempfile.gettempdir()) / f"bench-web-serve-{port}.log"
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "serve", "--port", str(port)],
        cwd=ROOT, env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit(f"the server did not start; see {log}") from None
                time.sleep(0.1)
        base = f"http://127.0.0.1:{port}"
        asyncio.run(load(base, token, session_id, contact_ids, 2, 2))  # warm up
        for clients in args.clients:
            timings, statuses, elapsed = asyncio.run(
                load(base, token, session_id, contact_ids, clients, args.seconds)
            )
            report(clients, timings, statuses, elapsed)
            print(f"  serve log: {log}{postgres_connections()}")
    finally:
        server.terminate()
        server.wait(timeout=60)
        connection.close()
        workspace.delete()
        user.delete()


if __name__ == "__main__":
    main()
