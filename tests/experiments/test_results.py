"""experiments.results: what is counted (conversions in the window after exposure, guardrails,
secondary metrics), the statistics applied to those counts, the daily series, the words, and the
cache, on a small population written row by row."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from channels_app.models import Channel, Message
from consent.services.records import consent_change
from contacts.models import Contact, Event
from cpaas.tenancy import Actor
from experiments import results, stats
from experiments.models import Experiment, ExperimentAssignment
from tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 12, 10, 12, 0, tzinfo=dt.UTC)
START = NOW - dt.timedelta(days=6)
HOUR, DAY = dt.timedelta(hours=1), dt.timedelta(days=1)
PER_ARM = 300


def _experiment(workspace, **kwargs):
    fields = {
        "workspace": workspace,
        "journey_id": 77,
        "node": "split",
        "name": "Promise-to-pay wording",
        "variants": [
            {"exit": "a", "name": "Friendly", "weight": 50, "control": True},
            {"exit": "b", "name": "Firm", "weight": 50},
        ],
        "goal_event": "payment_completed",
        "goal_window_s": 2 * 86400,
        "guardrails": {"opt_out_rate": {"threshold": 0.02}, "delivery_failure_rate": {"threshold": 0.05}},
        "prices": {"sms": 0.05},
        "baseline_rate": 0.10,
        "mde": 0.5,
        "status": Experiment.Status.RUNNING,
        "started_at": START,
    } | kwargs
    return Experiment.objects.create(**fields)


def _contacts(workspace, n, prefix="+4479"):
    Contact.objects.bulk_create([Contact(workspace=workspace, phone=f"{prefix}{i:08d}") for i in range(n)])
    return list(Contact.objects.filter(workspace=workspace, phone__startswith=prefix).order_by("pk"))


def _assign(experiment, contacts_by_arm):
    rows = []
    for variant, contacts in contacts_by_arm.items():
        for i, contact in enumerate(contacts):
            rows.append(
                ExperimentAssignment(
                    workspace=experiment.workspace,
                    experiment=experiment,
                    contact=contact,
                    variant=variant,
                    exposed_at=START + (i % 6) * DAY + HOUR,
                )
            )
    ExperimentAssignment.objects.bulk_create(rows)
    return {(r.variant, i): r for i, r in enumerate(rows)}


def _event(contact, name, at):
    return Event(workspace=contact.workspace, contact=contact, name=name, occurred_at=at)


def _message(contact, at, *, direction="out", status="delivered", journey_id=77, text="Hello", segments=1):
    channel = Channel.objects.filter(workspace=contact.workspace, kind="sms").first()
    return Message(
        workspace=contact.workspace,
        contact=contact,
        channel=channel,
        kind="sms",
        direction=direction,
        address=contact.phone,
        text=text,
        status=status,
        status_changed_at=at,
        created_at=at,
        journey_id=journey_id if direction == "out" else None,
        segments=segments,
    )


@pytest.fixture
def population():
    """600 contacts split 300/300 over six days; the control converts 10 %, the variant 20 %,
    with events that must not count: before the exposure, after the window, after now, of
    another name, of an unassigned contact."""
    workspace = WorkspaceFactory()
    experiment = _experiment(workspace)
    contacts = _contacts(workspace, 2 * PER_ARM + 1)
    arms = {"a": contacts[:PER_ARM], "b": contacts[PER_ARM : 2 * PER_ARM]}
    outsider = contacts[-1]
    _assign(experiment, arms)
    exposed = {
        c.pk: a.exposed_at
        for a in ExperimentAssignment.objects.filter(experiment=experiment)
        for c in [a.contact]
    }
    events, messages = [], []
    expected = {"a": {"conversions": [0] * 6}, "b": {"conversions": [0] * 6}}
    for arm, every in (("a", 10), ("b", 5)):
        for i, contact in enumerate(arms[arm]):
            at = exposed[contact.pk]
            day = i % 6
            if i % every == 0:
                events.append(_event(contact, "payment_completed", at + 2 * HOUR))
                events.append(_event(contact, "payment_completed", at + 3 * HOUR))  # counted once
                expected[arm]["conversions"][day] += 1
            elif i % every == 1:
                events.append(_event(contact, "payment_completed", at - HOUR))  # before exposure
            elif i % every == 2:
                events.append(_event(contact, "payment_failed", at + HOUR))  # another event
            elif i % every == 3 and day == 0:
                events.append(_event(contact, "payment_completed", at + 3 * DAY))  # after the window
            elif i % every == 4 and day == 5:
                events.append(_event(contact, "payment_completed", at + DAY))  # after now
            segments = 2 if arm == "a" else 3
            failed = i < 6
            messages.append(_message(contact, at + dt.timedelta(minutes=1), segments=segments,
                                     status="failed" if failed else "delivered"))  # fmt: skip
            if i == 7:  # another journey's failure does not count
                messages.append(_message(contact, at + HOUR, status="failed", journey_id=78))
    events.append(_event(outsider, "payment_completed", START + HOUR))
    # replies: 15 in the control (one complaint), 30 in the variant (four complaints)
    for arm, count, complaints in (("a", 15, 1), ("b", 30, 4)):
        for i, contact in enumerate(arms[arm][:count]):
            text = "This is SPAM, stop it" if i < complaints else "ok thanks"
            messages.append(
                _message(contact, exposed[contact.pk] + HOUR, direction="in", status="received", text=text)
            )
    Event.objects.bulk_create(events)
    Message.objects.bulk_create(messages)
    # opt-outs: 3 in the control, 30 in the variant, and one before exposure that does not count
    actor = Actor.system("test")
    for arm, count in (("a", 3), ("b", 30)):
        for contact in arms[arm][:count]:
            consent_change(contact=contact, channel_kind="sms", purpose="marketing", status="opted_out", actor=actor,
                           method="keyword", reason="STOP", at=NOW, occurred_at=exposed[contact.pk] + 2 * HOUR)  # fmt: skip
    late = arms["a"][-1]
    consent_change(contact=late, channel_kind="sms", purpose="marketing", status="opted_out", actor=actor,
                   method="keyword", reason="STOP", at=NOW, occurred_at=exposed[late.pk] - HOUR)  # fmt: skip
    return experiment, expected


def test_conversions_count_each_exposed_contact_once_within_the_window(population):
    experiment, expected = population
    r = results.compute(experiment, now=NOW)
    a, b = r["arms"]
    assert (a["exit"], a["exposures"], a["conversions"]) == ("a", 300, 30)
    assert (b["exit"], b["exposures"], b["conversions"]) == ("b", 300, 60)
    assert r["series"]["arms"]["a"]["exposures"] == [50] * 6
    assert r["series"]["arms"]["a"]["cumulative_conversions"] == _cumulative(expected["a"]["conversions"])
    assert r["series"]["arms"]["b"]["cumulative_conversions"] == _cumulative(expected["b"]["conversions"])
    assert r["series"]["dates"] == [f"2026-12-{d:02d}" for d in range(4, 10)]


def _cumulative(values):
    out, total = [], 0
    for v in values:
        total += v
        out.append(total)
    return out


def test_statistics_are_those_of_the_counts(population):
    experiment, _ = population
    r = results.compute(experiment, now=NOW)
    a, b = r["arms"]
    assert a["rate"] == {"value": 0.1, **_interval(stats.proportion(30, 300))}
    assert a["lift"] is None and a["p_value"] is None
    relative = stats.relative_lift(30, 300, 60, 300)
    absolute = stats.absolute_lift(30, 300, 60, 300)
    assert b["lift"] == {
        "absolute": absolute.value, "absolute_low": absolute.low, "absolute_high": absolute.high,
        "relative": relative.value, "relative_low": relative.low, "relative_high": relative.high,
    }  # fmt: skip
    assert b["p_value"] == stats.two_proportion_p_value(30, 300, 60, 300)
    assert b["p_adjusted"] == b["p_value"]  # one comparison: nothing to correct
    assert r["method"]["correction"] is None
    assert b["significant"] is True
    bayes = stats.bayesian(30, 300, 60, 300)
    assert b["chance_to_beat_control"] == bayes.chance_to_beat_control
    assert b["expected_loss"] == bayes.expected_loss_variant
    assert r["leader"] == "b"


def _interval(e):
    return {"low": e.low, "high": e.high}


def test_summary_says_it_in_words(population):
    experiment, _ = population
    r = results.compute(experiment, now=NOW)
    relative = stats.relative_lift(30, 300, 60, 300)
    p = stats.two_proportion_p_value(30, 300, 60, 300)
    assert (round(relative.low * 100), round(relative.high * 100)) == (18, 182)
    assert r["summary"] == (
        f"Firm converts 20.0 % against 10.0 % (+100 %, 95 % interval +18 % to +182 %); significant (p = {p:.2g}); "
        "chance to beat control 99.9 %; traffic split as planned; guardrail breached: opt-out rate."
    )


def test_guardrails_and_secondary_metrics(population):
    experiment, _ = population
    r = results.compute(experiment, now=NOW)
    guardrails = {g["metric"]: g for g in r["guardrails"]}
    opt_out = guardrails["opt_out_rate"]
    assert (opt_out["control_count"], opt_out["count"]) == (3, 30)
    assert opt_out["watched"] and opt_out["breached"] and opt_out["status"] == "breached"
    failures = guardrails["delivery_failure_rate"]
    assert (failures["control_count"], failures["count"]) == (6, 6)  # another journey's failure left out
    assert failures["status"] == "ok"
    complaints = guardrails["complaint_replies"]
    assert (complaints["control_count"], complaints["count"]) == (1, 4)
    assert complaints["watched"] is False and complaints["breached"] is False
    a, b = r["arms"]
    assert a["secondary"]["reply_rate"]["count"] == 15 and b["secondary"]["reply_rate"]["count"] == 30
    assert a["secondary"]["cost"] == pytest.approx(300 * 2 * 0.05)
    assert b["secondary"]["cost"] == pytest.approx(300 * 3 * 0.05)
    assert b["secondary"]["cost_per_conversion"] == pytest.approx(45.0 / 60)
    # every contact got the same cost within an arm: the difference is exact, no variance
    assert b["secondary"]["cost_test"] is None
    warning = next(w for w in r["warnings"] if w["code"] == "guardrail")
    assert warning["text"] == (
        "Guardrail breached: opt-out rate of Firm is 10.0 % against 1.0 % for the control "
        "(+9.0 points, above the 2.0 points allowed)."
    )


def test_cost_per_contact_is_compared_with_welch_when_costs_vary(monkeypatch):
    workspace = WorkspaceFactory()
    experiment = _experiment(workspace)
    contacts = _contacts(workspace, 40)
    _assign(experiment, {"a": contacts[:20], "b": contacts[20:]})
    exposed = dict(
        ExperimentAssignment.objects.filter(experiment=experiment).values_list("contact_id", "exposed_at")
    )
    segments = {c.pk: 1 + (i % 3) + (2 if i >= 20 else 0) for i, c in enumerate(contacts)}
    Message.objects.bulk_create(
        [_message(c, exposed[c.pk] + HOUR, segments=segments[c.pk]) for c in contacts]
    )
    r = results.compute(experiment, now=NOW)
    costs_a = [segments[c.pk] * 0.05 for c in contacts[:20]]
    costs_b = [segments[c.pk] * 0.05 for c in contacts[20:]]
    ma, va = stats.mean_and_variance(sum(costs_a), sum(x * x for x in costs_a), 20)
    mb, vb = stats.mean_and_variance(sum(costs_b), sum(x * x for x in costs_b), 20)
    welch = stats.welch_t_test(ma, va, 20, mb, vb, 20)
    test = r["arms"][1]["secondary"]["cost_test"]
    assert test["difference"] == pytest.approx(mb - ma) and mb - ma > 0.09
    assert r["arms"][0]["secondary"]["cost"] == pytest.approx(sum(costs_a))
    assert r["arms"][1]["secondary"]["cost_sample"] is None
    # beyond COST_SAMPLE exposures, the contacts whose id is a multiple of k stand for the arm
    monkeypatch.setattr(results, "COST_SAMPLE", 10)
    r = results.compute(experiment, now=NOW)
    sampled_a = [segments[c.pk] * 0.05 for c in contacts[:20] if c.pk % 4 == 0]
    a = r["arms"][0]["secondary"]
    assert a["cost_sample"] == "1 in 4"
    assert a["cost_per_contact"] == pytest.approx(sum(sampled_a) / len(sampled_a))
    assert a["cost"] == pytest.approx(sum(sampled_a) / len(sampled_a) * 20)
    assert test["p_value"] == pytest.approx(welch.p_value)


def test_a_bounded_number_of_queries(population):
    experiment, _ = population
    with CaptureQueriesContext(connection) as captured:
        results.compute(experiment, now=NOW)
    reads = [
        q["sql"]
        for q in captured.captured_queries
        if q["sql"].lstrip().upper().startswith(("SELECT", "WITH"))
    ]
    # whatever the number of contacts, arms and days: exposures, conversions, guardrails and replies, cost
    assert len(reads) == 4
    # the savepoint pair and, on PostgreSQL, the planner settings: set, then back to the defaults
    assert len(captured.captured_queries) <= 8


def test_sample_ratio_mismatch_is_flagged_in_words():
    workspace = WorkspaceFactory()
    experiment = _experiment(workspace, guardrails={})
    contacts = _contacts(workspace, 500)
    _assign(experiment, {"a": contacts[:200], "b": contacts[200:]})
    r = results.compute(experiment, now=NOW)
    assert r["srm"]["mismatch"] is True and r["srm"]["observed"] == [200, 300]
    assert r["srm"]["p_value"] == stats.sample_ratio_mismatch([200, 300], [50, 50]).p_value
    assert "traffic split does NOT match the weights (sample-ratio mismatch)" in r["summary"]
    assert any(w["code"] == "srm" and "Friendly 200, Firm 300" in w["text"] for w in r["warnings"])


def test_more_than_two_arms_are_corrected_and_sequential_mode_decides_on_its_own_p_value():
    workspace = WorkspaceFactory()
    variants = [
        {"exit": "a", "name": "Control", "weight": 34, "control": True},
        {"exit": "b", "name": "B", "weight": 33},
        {"exit": "c", "name": "C", "weight": 33},
    ]
    experiment = _experiment(workspace, variants=variants, correction="bh", sequential=True, guardrails={})
    contacts = _contacts(workspace, 900)
    arms = {"a": contacts[:300], "b": contacts[300:600], "c": contacts[600:]}
    _assign(experiment, arms)
    exposed = dict(
        ExperimentAssignment.objects.filter(experiment=experiment).values_list("contact_id", "exposed_at")
    )
    rates = {"a": 10, "b": 4, "c": 6}  # every 10th, 4th, 6th contact converts
    Event.objects.bulk_create(
        [
            _event(c, "payment_completed", exposed[c.pk] + HOUR)
            for arm, every in rates.items()
            for i, c in enumerate(arms[arm])
            if i % every == 0
        ]
    )
    r = results.compute(experiment, now=NOW)
    _, b, c = r["arms"]
    assert r["method"]["correction"] == "bh" and r["method"]["sequential"] is True
    sequential = [b["sequential"]["p_value"], c["sequential"]["p_value"]]
    assert [b["p_adjusted"], c["p_adjusted"]] == stats.benjamini_hochberg(sequential)
    assert b["sequential"]["p_value"] > b["p_value"]  # always-valid costs evidence
    assert "always-valid interval" in r["summary"] and "after Benjamini–Hochberg correction" in r["summary"]
    assert not any(w["code"] == "peeking" for w in r["warnings"])


def test_underpowered_and_peeking_warnings():
    workspace = WorkspaceFactory()
    experiment = _experiment(workspace, mde=0.1, guardrails={})
    contacts = _contacts(workspace, 100)
    _assign(experiment, {"a": contacts[:50], "b": contacts[50:]})
    r = results.compute(experiment, now=NOW)
    required = stats.required_sample_per_arm(0.10, 0.1)
    codes = [w["code"] for w in r["warnings"]]
    assert codes == ["underpowered", "peeking"]
    assert r["power"]["required_per_arm"] == required and r["power"]["smallest_arm"] == 50
    assert (
        f"each arm needs {required:,} contacts to detect a +10 % change with 80 % power"
        in r["warnings"][0]["text"]
    )
    # 100 contacts over 6 days: about 16.7 a day, half to each arm
    assert r["power"]["entries_per_day"] == pytest.approx(100 / 6)
    assert r["power"]["expected_days"] == pytest.approx(required / (100 / 6 / 2))


def test_no_contact_yet():
    experiment = _experiment(WorkspaceFactory(), started_at=None)
    r = results.compute(experiment, now=NOW)
    assert r["summary"] == "No contact has reached the split yet."
    assert [a["exposures"] for a in r["arms"]] == [0, 0]
    assert r["srm"]["checked"] is False


def test_refresh_caches_the_results_on_the_experiment(population):
    experiment, _ = population
    results.refresh(experiment, now=NOW)
    stored = Experiment.objects.get(pk=experiment.pk)
    assert stored.results_computed_at == NOW
    assert stored.results["arms"][1]["conversions"] == 60
    assert stored.results["summary"].startswith("Firm converts 20.0 %")


def test_refresh_later_runs_in_the_worker_after_commit_only(population, django_capture_on_commit_callbacks):
    experiment, _ = population
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        results.refresh_later(experiment)
    assert Experiment.objects.get(pk=experiment.pk).results == {}  # nothing before the commit
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        results.refresh_later(experiment)  # the test worker runs tasks synchronously
    assert len(callbacks) == 1
    assert Experiment.objects.get(pk=experiment.pk).results["arms"][1]["conversions"] == 60
    assert results.refresh_task(10**9) is False


def test_the_schedule_refreshes_running_experiments_and_ended_ones_once(population):
    experiment, _ = population
    draft = _experiment(experiment.workspace, node="other", status=Experiment.Status.DRAFT, started_at=None)
    ended = _experiment(experiment.workspace, node="ended", status=Experiment.Status.STOPPED,
                        ended_at=NOW - HOUR, results_computed_at=NOW - 2 * HOUR)  # fmt: skip
    assert results.refresh_running(now=NOW) == 2
    assert Experiment.objects.get(pk=experiment.pk).results_computed_at == NOW
    assert Experiment.objects.get(pk=ended.pk).results_computed_at == NOW
    assert Experiment.objects.get(pk=draft.pk).results_computed_at is None
    assert results.refresh_running(now=NOW + HOUR) == 1  # the ended one is final now


def test_the_schedule_exists():
    from django_q.models import Schedule

    schedule = Schedule.objects.get(func="experiments.results.refresh_running")
    assert (schedule.schedule_type, schedule.minutes) == ("I", 10)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="planner settings are PostgreSQL's")
def test_the_planner_settings_of_the_compute_do_not_outlive_it(population):
    experiment, _ = population
    with connection.cursor() as cursor:
        cursor.execute("SHOW work_mem")
        before = cursor.fetchone()[0]
        results.compute(experiment, now=NOW)
        cursor.execute("SHOW work_mem")
        after = cursor.fetchone()[0]
        cursor.execute("SELECT current_setting('enable_hashjoin'), current_setting('enable_mergejoin')")
        joins = cursor.fetchone()
    assert (after, *joins) == (before, "on", "on")


def test_exposures_per_day_at_the_edges_of_days_and_of_the_experiment():
    # before the start counts on day 0, a day's last second on that day, after `now` nowhere
    experiment = _experiment(WorkspaceFactory(), goal_event="")
    contacts = _contacts(experiment.workspace, 6)
    now = START + 2 * DAY + HOUR
    times = [
        START - 2 * HOUR,
        START + DAY - dt.timedelta(seconds=1),
        START + DAY,
        START + 2 * DAY,
        now,
        now + HOUR,
    ]
    ExperimentAssignment.objects.bulk_create(
        ExperimentAssignment(
            workspace=experiment.workspace, experiment=experiment, contact=c, variant="a", exposed_at=t
        )
        for c, t in zip(contacts, times, strict=True)
    )
    r = results.compute(experiment, now=now)
    assert r["series"]["arms"]["a"]["exposures"] == [2, 1, 2]
    assert r["series"]["arms"]["b"]["exposures"] == [0, 0, 0]
    assert [a["exposures"] for a in r["arms"]] == [5, 0]
