"""A bank's sign-up day through the journey engine: 5,500 sign-ups over 90 s (simulated clock,
events recorded as the events API records them) enter `trigger.event -> otp.verify`, with the
workspace's verification settings at their defaults and again with a per-minute rate of a third
of the sign-ups (the burst then takes about three minutes). Prints, per run: codes sent,
contacts sent to `failed` (must be 0), the most contacts waiting for a rate limit at once, the
simulated time until the last code went out, and the engine's wall-clock cost per code next to a
baseline measured in the same run (one plain message_send). Figures only, no asserts.

    .venv/bin/python bench/otp_burst.py [--contacts 5500] [--seconds 90]
    BENCH_DATABASE_URL=postgres://cpaas:cpaas@127.0.0.1:5432/cpaas_bench .venv/bin/python bench/otp_burst.py

Uses a throwaway SQLite file unless BENCH_DATABASE_URL is set (that database is migrated and a
throwaway workspace is created in it)."""

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
TMP = Path(tempfile.mkdtemp(prefix="otp-burst-"))
os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL") or f"sqlite:///{TMP / 'bench.sqlite3'}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cpaas.settings.dev")
os.environ.setdefault("DEBUG", "false")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

T0 = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)


def run(n: int, seconds: int, per_minute: int | None) -> None:
    from channels_app.models import Message, Verification
    from channels_app.services.verify_policy import verify_policy_get, verify_policy_update
    from contacts.models import Contact
    from contacts.services import event_record
    from cpaas.models import Workspace
    from cpaas.tenancy import Actor
    from journeys.engine.runner import run_pending
    from journeys.models import Enrollment, Step
    from journeys.services import journey_create, journey_publish

    ws = Workspace.objects.create(name="bench otp", slug=f"bench-otp-{uuid.uuid4().hex[:8]}")
    actor = Actor.system("bench")
    if per_minute:
        verify_policy_update(workspace=ws, actor=actor, data={"per_minute": per_minute}, now=T0)
    policy = verify_policy_get(workspace=ws)
    graph = {
        "schema": 1,
        "start": "trigger",
        "nodes": {
            "trigger": {"type": "trigger.event", "config": {"event": "signup"}, "exits": {"next": "otp"}},
            "otp": {
                "type": "otp.verify",
                "config": {"channels": ["sms"], "expiry_s": 600},
                "exits": {"verified": None, "failed": "support", "expired": None},
            },
            "support": {"type": "inbox.handoff", "config": {"queue": "support"}, "exits": {"next": None}},
        },
    }
    journey = journey_create(workspace=ws, actor=actor, name="Sign-up", graph=graph, rules={})
    journey_publish(journey=journey, actor=actor, now=T0 - dt.timedelta(minutes=1))
    # UK mobiles spread over the 07400-07999 ranges, as a real sign-up day's numbers are
    Contact.objects.bulk_create(
        [
            Contact(workspace=ws, first_name=f"P{i}", phone=f"+44{7400 + (i * 7) % 600}{i:06d}")
            for i in range(n)
        ],
        batch_size=2000,
    )
    contacts = list(Contact.objects.filter(workspace=ws).order_by("pk"))
    # baseline in the same run: one plain SMS through message_send
    from channels_app.services.messages import message_send

    started = time.perf_counter()
    for c in contacts[:200]:
        message_send(workspace=ws, contact=c, channel="sms", content={"text": "hello"}, now=T0)
    baseline = (time.perf_counter() - started) / 200
    Message.objects.filter(workspace=ws).delete()

    per_second = -(-n // seconds)
    engine_s = 0.0
    last_code = T0
    peak_deferred = 0
    waiting_on_timer = Enrollment.objects.filter(journey=journey, wait_kind="timer")
    for second in range(0, 3 * 3600):
        now = T0 + dt.timedelta(seconds=second)
        for c in contacts[second * per_second : (second + 1) * per_second]:
            event_record(workspace=ws, contact=c, name="signup", now=now, source="bench")
        before = Verification.objects.filter(workspace=ws).count()
        started = time.perf_counter()
        run_pending(now=now)
        engine_s += time.perf_counter() - started
        if Verification.objects.filter(workspace=ws).count() > before:
            last_code = now
        deferred_now = waiting_on_timer.count()
        peak_deferred = max(peak_deferred, deferred_now)
        if second >= seconds and not deferred_now:
            break
    steps = Step.objects.filter(enrollment__journey=journey, node="otp")
    codes = Verification.objects.filter(workspace=ws).count()
    failed = steps.filter(exit="failed").count()
    print(
        f"per_minute={policy.per_minute:>5}: {n:,} sign-ups over {seconds} s -> {codes:,} codes sent, "
        f"{failed} to failed, last code at +{(last_code - T0).total_seconds():.0f} s "
        f"(at most {peak_deferred:,} waiting for a rate limit at once); "
        f"engine {engine_s / max(1, codes) * 1000:.1f} ms per code vs message_send "
        f"{baseline * 1000:.1f} ms ({engine_s / max(1, codes) / baseline:.1f}x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=5500)
    parser.add_argument("--seconds", type=int, default=90)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    run(args.contacts, args.seconds, None)
    run(args.contacts, args.seconds, max(1, args.contacts // 3))  # the burst takes ~3 minutes


if __name__ == "__main__":
    main()
