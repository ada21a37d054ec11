"""Journey engine benchmark on PostgreSQL, with 2 engine processes (and one dispatcher).

    .venv/bin/python bench/engine.py [e2e] [ab] [timers] [storm] [segment]   # BENCH_DATABASE_URL, default postgres://cpaas:cpaas@127.0.0.1:5432/cpaas_bench
    BENCH_QUICK=1 .venv/bin/python bench/engine.py e2e         # enrol in one insert, not by events (iterating)

Prints, measured in the same run on the same database:
1. the yardstick: raw single-row INSERTs per second (autocommit, one connection);
2. end to end: 10,000 contacts enter `trigger.event -> wait.delay 1 s -> message.send (sandbox) -> exit`
   through recorded events; messages handed to the provider per second (first to last hand-over),
   and that rate as a ratio of the raw INSERT rate;
3. timer lateness p50 / p95 / max over 10,000 timers due over 10 s: the steps' own time minus the
   due time, and as a reader of the database sees it (below);
4. a timer storm: 20,000 timers due at the same instant (2 engines): lateness p50 / p95 / max as
   a reader of the database sees it (a poller counts the enrolments past their wait every 10 ms;
   a timer is late by the first poll that shows it fired, so the figures include up to one poll),
   and timers that fired twice (more than one step out of the wait);
5. `ab` (only when asked): the end-to-end figure with an A/B split (`split.ab`, two arms, each its
   own send) in the path against the same journey without it, in the same run, as a ratio;
6. time to enrol a 100,000-contact segment (and to advance everyone to their first wait), and
   the peak RSS of the engine processes.
The database is dropped and created again; nothing else is touched."""

import datetime as dt
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import common  # bench/common.py (a bench runs as python bench/<name>.py)

ROOT = Path(__file__).resolve().parent.parent
URL = os.environ.get("BENCH_DATABASE_URL", "postgres://cpaas:cpaas@127.0.0.1:5432/cpaas_bench")
ENV = {**os.environ, "DATABASE_URL": URL, "DJANGO_SETTINGS_MODULE": "cpaas.settings.dev", "PYTHONUNBUFFERED": "1",
       "LOG_LEVEL": "WARNING"}  # fmt: skip
PY = sys.executable
# BENCH_QUICK=1: the end-to-end contacts are enrolled in one insert instead of through 10,000
# recorded events (minutes faster; the engine and dispatcher part is the same). BENCH_CONTACTS: how many.
QUICK = os.environ.get("BENCH_QUICK") == "1"
E2E_CONTACTS = int(os.environ.get("BENCH_CONTACTS", 10_000))


LOG_DIR = os.environ.get("BENCH_LOG_DIR")  # set: the processes log at INFO into files there
_started = 0


def start(command, *args):
    global _started
    _started += 1
    env, out = ENV, subprocess.DEVNULL
    if LOG_DIR:
        env, out = {**ENV, "LOG_LEVEL": "INFO"}, open(Path(LOG_DIR) / f"{command}{_started}.log", "wb")
    return subprocess.Popen([PY, "manage.py", command, *args], cwd=ROOT, env=env, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip


def peak_rss_mb(process) -> float:
    try:
        for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def wait_until(check, timeout=600, every=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(every)
    return False


def setup_django():
    os.environ.update({k: ENV[k] for k in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "LOG_LEVEL")})
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def workspace(name):
    from django.contrib.auth import get_user_model

    from channels_app.models import Channel
    from cpaas.models import Membership, Workspace

    ws = Workspace.objects.create(name=name, slug=name.lower().replace(" ", "-"), timezone="UTC")
    user, _ = get_user_model().objects.get_or_create(username="bench")
    Membership.objects.get_or_create(workspace=ws, user=user, defaults={"role": "admin"})
    Channel.objects.filter(workspace=ws, kind="sms").update(
        rate_limit_per_second=100_000, settings={"sandbox": {"receipt": "none"}}
    )
    return ws, user


def contacts(ws, n, **fields):
    from contacts.models import Contact

    Contact.objects.bulk_create(
        (
            Contact(workspace=ws, first_name=f"P{i}", phone=f"+4479{ws.pk % 10}{i:07d}", **fields)
            for i in range(n)
        ),
        batch_size=5000,
    )
    return list(Contact.objects.filter(workspace=ws).order_by("pk").values_list("pk", flat=True))


def publish(ws, user, name, graph, **rules):
    from cpaas.tenancy import Actor
    from journeys.services import journey_create, journey_publish

    journey = journey_create(workspace=ws, actor=Actor.for_user(user), name=name, graph=graph, rules=rules)
    journey_publish(journey=journey, actor=Actor.for_user(user))
    journey.refresh_from_db()
    return journey


def n(type_, config=None, **exits):
    return {"type": type_, "config": config or {}, "exits": exits}


E2E_GRAPH = {"schema": 1, "start": "t", "nodes": {
    "t": n("trigger.event", {"event": "signup"}, next="w"),
    "w": n("wait.delay", {"seconds": 1}, next="m"),
    "m": n("message.send", {"channel": "sms", "template": {"en": "Welcome aboard!"}}, next="x", failed=None),
    "x": n("exit")}}  # fmt: skip
# The same path with an A/B split before the send: each arm its own wording (issue 14).
AB_GRAPH = {"schema": 1, "start": "t", "nodes": {
    "t": n("trigger.event", {"event": "signup"}, next="w"),
    "w": n("wait.delay", {"seconds": 1}, next="ab"),
    "ab": n("split.ab", {"variants": [{"exit": "a", "weight": 50, "control": True}, {"exit": "b", "weight": 50}]},
            a="m", b="m2"),
    "m": n("message.send", {"channel": "sms", "template": {"en": "Welcome aboard!"}}, next="x", failed=None),
    "m2": n("message.send", {"channel": "sms", "template": {"en": "Great to have you!"}}, next="x", failed=None),
    "x": n("exit")}}  # fmt: skip


def end_to_end(insert_rate, graph=E2E_GRAPH, label="E2E"):
    from django.db import transaction
    from django.db.models import Max, Min

    from channels_app.models import SandboxDelivery
    from contacts.models import Contact
    from contacts.services import event_record
    from journeys.models import Enrollment

    ws, user = workspace(f"Bench {label}")
    ids = contacts(ws, E2E_CONTACTS)
    journey = publish(ws, user, label, graph)
    # the contacts enter through their events (as the events API records them), before the engines run
    t0 = time.monotonic()
    people = Contact.objects.filter(workspace=ws).order_by("pk")
    batch = []
    if QUICK:  # while iterating on the engine: enrol as an audience does, in one insert
        from django.utils import timezone

        from journeys.engine.enroll import enroll_many

        with transaction.atomic():
            enroll_many(journey=journey, contact_ids=ids, now=timezone.now())
        people = people.none()
    for c in people.iterator(chunk_size=1000):
        batch.append(c)
        if len(batch) == 1000:
            with transaction.atomic():
                for contact in batch:
                    event_record(workspace=ws, contact=contact, name="signup", source="bench")
            batch = []
    enrol_s = time.monotonic() - t0
    assert Enrollment.objects.filter(journey=journey).count() == len(ids)
    print(
        f"  {'enrolled in one insert (BENCH_QUICK)' if QUICK else 'events recorded and enrolled'}: {len(ids):,} in {enrol_s:.1f} s ({len(ids) / enrol_s:,.0f}/s, one process)"
    )
    t1 = time.monotonic()
    procs = [start("engine"), start("engine"), start("dispatcher")]
    try:
        ok = wait_until(
            lambda: SandboxDelivery.objects.filter(channel__workspace=ws).count() >= len(ids), timeout=900
        )
        total_s = time.monotonic() - t1
    finally:
        common.stop(procs)
    assert ok, "not every message reached the provider"
    span = SandboxDelivery.objects.filter(channel__workspace=ws).aggregate(
        a=Min("received_at"), b=Max("received_at")
    )
    window = max(0.001, (span["b"] - span["a"]).total_seconds())
    rate = len(ids) / window
    print(f"  messages handed to the provider: {len(ids):,} in {window:.1f} s = {rate:,.0f} msg/s "
          f"({rate / insert_rate:.2f} x raw INSERT); engines started to last hand-over {total_s:.1f} s (incl. the 1 s wait)")  # fmt: skip
    from journeys.models import Step

    steps = Step.objects.filter(journey=journey, node__in=("m", "m2")).aggregate(a=Min("at"), b=Max("at"))
    engine_s = max(0.001, (steps["b"] - steps["a"]).total_seconds())
    done = Enrollment.objects.filter(journey=journey, status="completed").count()
    print(f"  of which the engines' part: {len(ids):,} message steps (messages written, consent checked) between the first "
          f"and the last round in {engine_s:.1f} s = {len(ids) / engine_s:,.0f}/s; enrolments completed: {done:,}")  # fmt: skip
    return rate


def ab_split(insert_rate):
    """The end-to-end figure with an A/B split in the path against the same journey without it,
    in the same run, in the order plain, A/B, A/B, plain (drift over the run cancels out)."""
    from experiments.models import ExperimentArm, ExperimentAssignment

    rates = {"plain": [], "ab": []}
    for i, kind in enumerate(("plain", "ab", "ab", "plain")):
        print(f"  -- {'without' if kind == 'plain' else 'with'} the A/B split:")
        rates[kind].append(end_to_end(insert_rate, AB_GRAPH if kind == "ab" else E2E_GRAPH, f"{kind} {i}"))
    plain, ab = statistics.mean(rates["plain"]), statistics.mean(rates["ab"])
    exposed = ExperimentAssignment.objects.count()
    counted = sum(ExperimentArm.objects.values_list("exposures", flat=True))
    print(f"  A/B split in the path: {ab:,.0f} msg/s against {plain:,.0f} msg/s without = {ab / plain:.2f} x "
          f"(target >= 0.9); exposures recorded {exposed:,}, counted {counted:,}")  # fmt: skip


def watch(journey, dues: list) -> list[float]:
    """Lateness of each timer as a reader of the database sees it: a poller counts the journey's
    enrolments past their wait every 10 ms; the k-th timer (by due time) is late by the first
    poll that shows k fired minus its due time (so the figures include up to one poll, ~10 ms,
    and a timer shown before its instant would come out negative)."""
    import psycopg

    dues = sorted(d.timestamp() for d in dues)
    samples = []
    with psycopg.connect(URL.replace("postgres://", "postgresql://"), autocommit=True) as conn:
        deadline = time.time() + 300
        while time.time() < deadline:
            (fired,) = conn.execute(
                "SELECT count(*) FROM journeys_enrollment WHERE journey_id = %s AND status <> 'waiting'",
                [journey.pk],
            ).fetchone()
            samples.append((time.time(), fired))
            if fired >= len(dues):
                break
            time.sleep(0.01)
    late, i = [], 0
    for k, due in enumerate(dues, 1):
        while i < len(samples) and samples[i][1] < k:
            i += 1
        late.append((samples[i][0] if i < len(samples) else float("inf")) - due)
    return late


def fired_twice(journey) -> int:
    from django.db.models import Count

    from journeys.models import Step

    return (
        Step.objects.filter(journey=journey, node="w", exit="next")
        .values("enrollment_id")
        .annotate(c=Count("id"))
        .filter(c__gt=1)
        .count()
    )


def figures(late: list[float]) -> str:
    late = sorted(late)
    p50, p95 = statistics.median(late), late[int(len(late) * 0.95) - 1]
    return f"p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max {late[-1] * 1000:.0f} ms (min {late[0] * 1000:.0f} ms)"


def timers():
    from django.db import transaction
    from django.utils import timezone

    from journeys.models import Enrollment, Step

    ws, user = workspace("Bench Timers")
    ids = contacts(ws, 10_000)
    journey = publish(ws, user, "Timers", {"schema": 1, "start": "t", "nodes": {
        "t": n("trigger.manual", {}, next="w"), "w": n("wait.delay", {"seconds": 1}, next="x"), "x": n("exit")}})  # fmt: skip
    procs = [start("engine"), start("engine")]
    time.sleep(2)  # let them start
    base = timezone.now() + dt.timedelta(seconds=15)  # inserting them took up to 8 s under load
    spread = 10.0
    rows = [
        Enrollment(
            workspace=ws,
            journey=journey,
            version=journey.live_version,
            contact_id=cid,
            status="waiting",
            node="w",
            wait_kind="timer",
            wait_until=base + dt.timedelta(seconds=spread * i / len(ids)),
            resume_token=1,
            entered_at=timezone.now(),
            active_lock=True,
        )  # fmt: skip
        for i, cid in enumerate(ids)
    ]
    for r in rows:
        r.due_at = r.wait_until
    with transaction.atomic():
        Enrollment.objects.bulk_create(rows, batch_size=5000)
    try:
        seen = watch(journey, [r.wait_until for r in rows])
        ok = wait_until(
            lambda: not Enrollment.objects.filter(journey=journey, status="waiting").exists(), timeout=300
        )
    finally:
        common.stop(procs)
    assert ok
    due = {r.contact_id: r.wait_until for r in rows}
    late = sorted(
        (s["at"] - due[s["enrollment__contact_id"]]).total_seconds()
        for s in Step.objects.filter(journey=journey, node="w").values("at", "enrollment__contact_id")
    )
    print(f"  {len(late):,} timers due over {spread:.0f} s: lateness of the steps' time {figures(late)}; "
          f"seen by a reader {figures(seen)}; fired twice {fired_twice(journey)}")  # fmt: skip


STORM = int(os.environ.get("BENCH_STORM", 20_000))
STORM_AHEAD_S = 40  # the timers are in the database this long before their instant (inserting
# 20,000 rows took up to 15 s under load)


def storm():
    from django.db import transaction
    from django.utils import timezone

    from journeys.models import Enrollment, Step

    ws, user = workspace("Bench Storm")
    ids = contacts(ws, STORM)
    journey = publish(ws, user, "Storm", {"schema": 1, "start": "t", "nodes": {
        "t": n("trigger.manual", {}, next="w"), "w": n("wait.delay", {"seconds": 1}, next="x"), "x": n("exit")}})  # fmt: skip
    procs = [start("engine"), start("engine")]
    time.sleep(2)  # let them start
    due = (timezone.now() + dt.timedelta(seconds=STORM_AHEAD_S)).replace(microsecond=0)
    rows = [
        Enrollment(
            workspace=ws,
            journey=journey,
            version=journey.live_version,
            contact_id=cid,
            status="waiting",
            node="w",
            wait_kind="timer",
            wait_until=due,
            due_at=due,
            resume_token=1,
            entered_at=timezone.now(),
            active_lock=True,
            waiting_since=timezone.now(),
        )  # fmt: skip
        for cid in ids
    ]
    with transaction.atomic():  # they appear at once, as timers set long before would be there
        Enrollment.objects.bulk_create(rows, batch_size=5000)
    ahead = (due - timezone.now()).total_seconds()
    try:
        late = watch(journey, [due] * len(ids))
    finally:
        common.stop(procs)
    fired = Step.objects.filter(journey=journey, node="w", exit="next").count()
    early = sum(1 for x in late if x < 0)
    print(f"  {len(ids):,} timers due at the same instant (in the database {ahead:.1f} s before it): lateness seen by "
          f"a reader {figures(late)}; fired {fired:,}, fired twice {fired_twice(journey)}, seen before the instant {early}")  # fmt: skip


def segment_enrolment():
    from contacts.models import Segment
    from cpaas.tenancy import Actor
    from journeys.models import AudienceRun, Enrollment
    from journeys.services import journey_start

    ws, user = workspace("Bench Segment")
    t0 = time.monotonic()
    count = len(contacts(ws, 100_000, language="fr"))
    print(f"  ({count:,} contacts created in {time.monotonic() - t0:.1f} s)")
    segment = Segment.objects.create(workspace=ws, name="French", definition={"match": "all", "rules": [
        {"field": "language", "op": "eq", "value": "fr"}]})  # fmt: skip
    journey = publish(ws, user, "Segment", {"schema": 1, "start": "t", "nodes": {
        "t": n("trigger.manual", {}, next="w"), "w": n("wait.delay", {"seconds": 86400}, next="x"), "x": n("exit")}})  # fmt: skip
    procs = [start("engine"), start("engine")]
    time.sleep(2)
    t1 = time.monotonic()
    run = journey_start(journey=journey, actor=Actor.for_user(user), segment=segment)
    try:
        ok = wait_until(lambda: AudienceRun.objects.filter(pk=run.pk, status="done").exists(), timeout=600)
        enrolled_s = time.monotonic() - t1
        ok2 = wait_until(
            lambda: Enrollment.objects.filter(journey=journey, status="waiting").count() == count,
            timeout=900,
            every=1,
        )
        advanced_s = time.monotonic() - t1
        rss = [peak_rss_mb(p) for p in procs]
    finally:
        common.stop(procs)
    assert ok and ok2
    print(f"  100,000-contact segment: enrolled in {enrolled_s:.1f} s, everyone at their first wait after {advanced_s:.1f} s; "
          f"peak RSS of the engine processes {max(rss):.0f} MB ({', '.join(f'{r:.0f}' for r in rss)})")  # fmt: skip


def main():
    print(f"== bench/engine.py on {URL.rsplit('@', 1)[-1]}")
    common.recreate_database(URL, ENV)
    setup_django()
    parts = sys.argv[1:] or ["e2e", "timers", "storm", "segment"]
    rate = common.raw_insert_rate(URL)
    print(
        f"raw single-row INSERT (autocommit): {rate:,.0f}/s  (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    if "e2e" in parts:
        print("end to end (2 engines, 1 dispatcher, sandbox provider):")
        end_to_end(rate)
        print(f"  raw single-row INSERT again: {common.raw_insert_rate(URL):,.0f}/s")
    if "ab" in parts:
        print("end to end with and without an A/B split (2 engines, 1 dispatcher, sandbox provider):")
        ab_split(rate)
    if "timers" in parts:
        print("timers (2 engines):")
        timers()
    if "storm" in parts:
        print("timer storm (2 engines):")
        storm()
    if "segment" in parts:
        print("segment enrolment (2 engines):")
        segment_enrolment()


if __name__ == "__main__":
    main()
