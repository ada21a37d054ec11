"""The front door through the real HTTP server (issue 12): `manage.py serve` (daphne, with the
task worker, the dispatcher and the journey engine beside it, as `make run` starts them) on
PostgreSQL. Figures only.

    .venv/bin/python bench/ingest.py        # BENCH_DATABASE_URL, default postgres://cpaas:cpaas@127.0.0.1:5432/cpaas_bench_ingest
    .venv/bin/python bench/ingest.py --batch-events 30000 --batch-size 5000 --clients 2

Prints, measured in the same run on the same database:
1. the yardstick: raw single-row INSERTs per second (autocommit, one connection);
2. batch: sign-up events for new contacts (named by phone, created by the events), each
   enrolling them in a live journey `trigger.event signup -> message.send (SMS, sandbox) -> exit`;
   events/s over the requests, per request p50/p95;
3. single events, 4 client threads, each a sign-up of a new contact: events/s, p50/p95 answer;
4. from the API's answer to the message handed to the sandbox provider (its received_at):
   p50/p95/max, for the single events, for the batch events (a batch's events all share its
   answer time; at full speed the engine is behind, so this is mostly backlog) and for paced
   batches (100 sign-ups every 0.25 s, below the engine's capacity);
5. contacts batch upsert: contacts/s for new contacts, then for the same contacts changed.
The database is dropped and created again; nothing else is touched. The machine's cores are
shared with whatever else runs: say so with the figures.
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import common  # bench/common.py (a bench runs as python bench/<name>.py)
import requests

ROOT = Path(__file__).resolve().parent.parent
URL = os.environ.get("BENCH_DATABASE_URL", "postgres://cpaas:cpaas@127.0.0.1:5432/cpaas_bench_ingest")
ENV = {**os.environ, "DATABASE_URL": URL, "DJANGO_SETTINGS_MODULE": "cpaas.settings.dev", "PYTHONUNBUFFERED": "1",
       "LOG_LEVEL": "WARNING", "DEBUG": "false", "API_TOKEN_RATE": "10000000/min"}  # fmt: skip
PY = sys.executable


def setup():
    os.environ.update({k: ENV[k] for k in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "LOG_LEVEL", "DEBUG")})
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from channels_app.models import Channel
    from contacts.models import Contact, Event
    from cpaas.models import Membership, Workspace
    from cpaas.services import api_token_create
    from cpaas.tenancy import Actor
    from journeys.services import journey_create, journey_publish

    ws = Workspace.objects.create(name="Bench ingest", slug="bench-ingest", timezone="UTC")
    user = get_user_model().objects.create_user(username="bench-ingest", password="x" * 20)
    Membership.objects.create(workspace=ws, user=user, role="admin")
    Channel.objects.filter(workspace=ws, kind="sms").update(
        rate_limit_per_second=100_000, settings={"sandbox": {"receipt": "none"}}
    )
    # the editor accepts a trigger only for an event it has seen
    seed = Contact.objects.create(workspace=ws, phone="+447400000000")
    Event.objects.create(workspace=ws, contact=seed, name="signup", occurred_at=timezone.now())
    actor = Actor.for_user(user)

    def n(type_, config=None, **exits):
        return {"type": type_, "config": config or {}, "exits": exits}

    graph = {"schema": 1, "start": "t", "nodes": {
        "t": n("trigger.event", {"event": "signup"}, next="m"),
        "m": n("message.send", {"channel": "sms", "template": {"en": "Welcome aboard!"}}, next="x", failed=None),
        "x": n("exit")}}  # fmt: skip
    journey = journey_create(workspace=ws, actor=actor, name="Welcome", graph=graph, rules={})
    journey_publish(journey=journey, actor=actor)
    _, key = api_token_create(workspace=ws, actor=actor, name="bench")
    return ws, key


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values, p) -> float:
    if not values:
        return float("nan")
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def phone(prefix: str, i: int) -> str:
    return f"+44{prefix}{i:07d}"


def run_batches(base, key, *, total, size, clients, prefix) -> tuple[float, list, dict]:
    """Sign-up events for new contacts, `size` a request, `clients` concurrent. Returns (elapsed,
    request times, phone -> answer time)."""
    answered: dict[str, float] = {}
    times: list[float] = []
    chunks = [list(range(s, min(total, s + size))) for s in range(0, total, size)]
    lock = threading.Lock()
    errors = []

    def worker():
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {key}"
        while True:
            with lock:
                if not chunks:
                    return
                chunk = chunks.pop(0)
            body = {"events": [{"contact": {"phone": phone(prefix, i)}, "name": "signup"} for i in chunk]}
            t = time.perf_counter()
            r = http.post(f"{base}/api/v1/events/batch/", json=body, timeout=300)
            done = time.time()
            times.append(time.perf_counter() - t)
            if r.status_code != 200:
                errors.append(f"{r.status_code} {r.text[:200]}")
                continue
            for i in chunk:
                answered[phone(prefix, i)] = done

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        print(f"  errors: {len(errors)}, first: {errors[0]}")
    return elapsed, times, answered


def run_paced(base, key, *, seconds, size, every, prefix) -> dict:
    """Batches of `size` sign-ups every `every` seconds (a steady feed below the engine's
    capacity): phone -> answer time."""
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {key}"
    answered: dict[str, float] = {}
    i, stop_at = 0, time.monotonic() + seconds
    while time.monotonic() < stop_at:
        t = time.monotonic()
        chunk = range(i, i + size)
        body = {"events": [{"contact": {"phone": phone(prefix, n)}, "name": "signup"} for n in chunk]}
        r = http.post(f"{base}/api/v1/events/batch/", json=body, timeout=60)
        done = time.time()
        if r.status_code == 200:
            answered.update((phone(prefix, n), done) for n in chunk)
        i += size
        time.sleep(max(0.0, every - (time.monotonic() - t)))
    return answered


def run_singles(base, key, *, seconds, threads_n, prefix) -> tuple[float, list, dict, int]:
    answered: dict[str, float] = {}
    times: list[float] = []
    counter = iter(range(10**7))
    lock = threading.Lock()
    errors = []
    stop_at = time.monotonic() + seconds

    def worker():
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {key}"
        while time.monotonic() < stop_at:
            with lock:
                i = next(counter)
            p = phone(prefix, i)
            t = time.perf_counter()
            r = http.post(
                f"{base}/api/v1/events/", json={"contact": {"phone": p}, "name": "signup"}, timeout=60
            )
            done = time.time()
            times.append(time.perf_counter() - t)
            if r.status_code != 201:
                errors.append(f"{r.status_code} {r.text[:200]}")
                continue
            answered[p] = done

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        print(f"  errors: {len(errors)}, first: {errors[0]}")
    return elapsed, times, answered, len(errors)


def handed_over(ws, answered: dict[str, float], timeout=300) -> list[float]:
    """Seconds from each answer to its message's arrival at the sandbox provider."""
    from channels_app.models import SandboxDelivery

    deadline = time.monotonic() + timeout
    got: dict[str, float] = {}
    while time.monotonic() < deadline:
        rows = SandboxDelivery.objects.filter(
            channel__workspace=ws, to_address__in=list(answered)
        ).values_list("to_address", "received_at")
        got = {a: at.timestamp() for a, at in rows}
        if len(got) >= len(answered):
            break
        time.sleep(0.5)
    missing = len(answered) - len(got)
    if missing:
        print(f"  {missing} messages not handed over within {timeout} s")
    return [got[a] - answered[a] for a in got]


def run_contacts(base, key, *, total, size, prefix, change=False) -> float:
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {key}"
    started = time.perf_counter()
    for s in range(0, total, size):
        body = {"contacts": [
            {"external_id": f"crm-{prefix}-{i}", "phone": phone(prefix, i), "first_name": "Changed" if change else f"P{i}",
             "last_name": "Bench", "email": f"p{i}@example.com", "language": "en"}
            for i in range(s, min(total, s + size))]}  # fmt: skip
        r = http.post(f"{base}/api/v1/contacts/batch/", json=body, timeout=300)
        if r.status_code != 200:
            print(f"  contacts batch: {r.status_code} {r.text[:300]}")
            return float("nan")
        summary = r.json()
        expect = "updated" if change else "created"
        if summary[expect] != min(size, total - s):
            print(
                f"  contacts batch: expected {expect}, got { ({k: v for k, v in summary.items() if k != 'results'}) }"
            )
    return total / (time.perf_counter() - started)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch-events", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=1000, nargs="+")
    parser.add_argument("--clients", type=int, default=1, help="concurrent batch clients")
    parser.add_argument("--single-seconds", type=float, default=15)
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--contacts-size", type=int, default=5000)
    args = parser.parse_args()
    sizes = args.batch_size if isinstance(args.batch_size, list) else [args.batch_size]

    common.recreate_database(URL, ENV)
    insert_rate = common.raw_insert_rate(URL)
    print(f"PostgreSQL, {os.cpu_count()} cores (shared with other work running on this machine)")
    print(f"yardstick: raw single-row INSERT {insert_rate:,.0f}/s")
    ws, key = setup()
    from django.db import connection

    port = free_port()
    log = Path(tempfile.gettempdir()) / f"bench-ingest-serve-{port}.log"
    server = subprocess.Popen([PY, "manage.py", "serve", "--port", str(port)], cwd=ROOT, env=ENV,
                              stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(
                    f"{base}/api/v1/contacts/", headers={"Authorization": f"Bearer {key}"}, timeout=5
                ).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit(f"the server did not start; see {log}")
            time.sleep(0.2)
        time.sleep(2)  # the engine and dispatcher come up beside the web server
        run_singles(base, key, seconds=1, threads_n=2, prefix="740")  # warm up

        prefix = 790
        for size in sizes:
            elapsed, times, answered = run_batches(
                base, key, total=args.batch_events, size=size, clients=args.clients, prefix=str(prefix)
            )
            rate = len(answered) / elapsed
            print(f"batch of {size:,} sign-ups (new contacts, each enrolled in a journey sending an SMS), "
                  f"{args.clients} client(s): {len(answered):,} events in {elapsed:.1f} s = {rate:,.0f} events/s "
                  f"({rate / insert_rate:.2f} x raw INSERT); request p50 {pct(times, 50):.2f} s, p95 {pct(times, 95):.2f} s")  # fmt: skip
            lat = handed_over(ws, answered)
            if lat:
                print(f"  API answer -> SMS handed to the sandbox provider: p50 {pct(lat, 50):.2f} s, "
                      f"p95 {pct(lat, 95):.2f} s, max {max(lat):.2f} s")  # fmt: skip
            prefix += 1

        time.sleep(2)
        answered = run_paced(base, key, seconds=10, size=100, every=0.25, prefix="770")
        lat = handed_over(ws, answered)
        if lat:
            print(f"paced batches (100 sign-ups every 0.25 s, {len(answered):,} events): API answer -> SMS handed "
                  f"to the sandbox provider p50 {pct(lat, 50) * 1000:.0f} ms, p95 {pct(lat, 95) * 1000:.0f} ms, "
                  f"max {max(lat) * 1000:.0f} ms")  # fmt: skip

        time.sleep(2)
        elapsed, times, answered, errors = run_singles(
            base, key, seconds=args.single_seconds, threads_n=4, prefix="780"
        )
        ms = [t * 1000 for t in times]
        print(f"single events, 4 client threads: {len(answered) / elapsed:,.0f} events/s, answer p50 "
              f"{pct(ms, 50):.0f} ms, p95 {pct(ms, 95):.0f} ms, errors {errors}")  # fmt: skip
        lat = handed_over(ws, answered)
        if lat:
            print(f"  API answer -> SMS handed to the sandbox provider: p50 {pct(lat, 50) * 1000:.0f} ms, "
                  f"p95 {pct(lat, 95) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms ({len(lat):,} messages)")  # fmt: skip

        new = run_contacts(base, key, total=args.contacts, size=args.contacts_size, prefix="750")
        changed = run_contacts(
            base, key, total=args.contacts, size=args.contacts_size, prefix="750", change=True
        )
        print(f"contacts batch upsert ({args.contacts_size:,} a request): new {new:,.0f} contacts/s, "
              f"existing (changed) {changed:,.0f} contacts/s")  # fmt: skip
        print(f"serve log: {log}")
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=60)
        connection.close()


if __name__ == "__main__":
    main()
