"""Decisions: by hand (winner, stop) with the numbers they were made on, refused when the status
does not allow them; the automatic rule declares a winner only when every condition holds; the
worker's task applies it; publishing keeps one experiment per split node."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from cpaas.models import AuditEntry
from experiments import decisions
from experiments.decisions import decide, experiments_decide, winner_by_rule
from experiments.models import Decision, Experiment
from experiments.services import experiment_declare_winner, experiment_stop, experiment_update
from experiments.tasks import experiments_decide_task
from tests.experiments.test_assignment import ab_graph

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 5, 1, 9, 0, tzinfo=dt.UTC)
LATER = START + dt.timedelta(days=8)


def results(p=0.001, lift=0.2, srm=False, breached=()):
    return {
        "arms": [
            {"exit": "a", "control": True, "exposures": 5000, "conversions": 160},
            {"exit": "b", "exposures": 5000, "conversions": 205, "p_adjusted": p, "lift": {"relative": lift}},
        ],
        "srm": {"p_value": 1e-6 if srm else 0.4, "mismatch": srm},
        "guardrails": [{"metric": m, "exit": "b", "breached": True} for m in breached],
    }


@pytest.fixture
def experiment(publish):
    journey = publish(ab_graph(), now=START)
    return Experiment.objects.get(journey_id=journey.pk, node="ab")


def test_publishing_starts_one_experiment_per_split_node_with_its_variants(experiment):
    assert (experiment.status, experiment.started_at, experiment.name) == ("running", START, "Wording")
    assert experiment.variants == [
        {"exit": "a", "name": "Friendly", "weight": 50, "control": True},
        {"exit": "b", "name": "Firm", "weight": 50, "control": False},
    ]
    assert (experiment.channel, experiment.purpose) == ("sms", "transactional")
    assert dict(experiment.arms.values_list("exit", "exposures")) == {"a": 0, "b": 0}


def test_a_publish_without_the_node_stops_its_experiment(experiment, actor):
    from journeys.models import Journey
    from journeys.services import draft_save, journey_publish
    from tests.journeys.conftest import graph, node

    journey = Journey.objects.get(pk=experiment.journey_id)
    g = graph(trigger=node("trigger.event", {"event": "signup"}, next="end"), end=node("exit"))
    draft_save(journey=journey, actor=actor, graph=g)
    journey_publish(journey=journey, actor=actor, now=LATER)
    experiment.refresh_from_db()
    assert (experiment.status, experiment.ended_at) == ("stopped", LATER)
    assert Decision.objects.get(experiment=experiment).reason == "its node left the published journey"


def test_weights_that_do_not_add_up_to_100_are_refused_at_publish(publish):
    from journeys.services.journeys import JourneyInvalid

    with pytest.raises(JourneyInvalid) as refused:
        publish(ab_graph(weights=(60, 60)))
    assert "'A/B: Wording': Variants and weights: the weights add up to 120; they must add up to 100." in str(
        refused.value
    )


def test_a_winner_by_hand_is_audited_with_the_numbers(experiment, actor):
    numbers = results()
    decision = experiment_declare_winner(
        experiment=experiment, winner="b", actor=actor, numbers=numbers, now=LATER
    )
    experiment.refresh_from_db()
    assert (experiment.status, experiment.winner, experiment.ended_at) == ("decided", "b", LATER)
    assert (decision.kind, decision.numbers, decision.automatic) == ("winner", numbers, False)
    entry = AuditEntry.objects.get(action="experiments.experiment.winner")
    assert entry.data["numbers"] == numbers and entry.actor_label == actor.label
    # and nothing more can be decided
    with pytest.raises(ValidationError, match="Only a running experiment can get a winner"):
        experiment_declare_winner(experiment=experiment, winner="a", actor=actor)
    with pytest.raises(ValidationError, match="already decided"):
        experiment_stop(experiment=experiment, actor=actor)


def test_an_unknown_winner_is_refused_by_name(experiment, actor):
    with pytest.raises(ValidationError) as refused:
        experiment_declare_winner(experiment=experiment, winner="zz", actor=actor)
    assert refused.value.message_dict == {"winner": ["'zz' is not one of the variants (a, b)."]}
    assert Experiment.objects.get(pk=experiment.pk).status == "running"


@pytest.mark.parametrize(
    ("numbers", "now", "why"),
    [
        (results(), START + dt.timedelta(days=3), "the minimum runtime has not passed"),
        (results(srm=True), LATER, "sample-ratio mismatch"),
        (results(breached=["opt_out_rate"]), LATER, "a guardrail is breached (opt_out_rate on b)"),
        (results(p=0.2), LATER, "no variant beats control significantly"),
        (results(lift=0.05), LATER, "no variant beats control significantly"),
    ],
)
def test_the_automatic_rule_waits_for_every_condition(experiment, numbers, now, why):
    assert winner_by_rule(experiment, numbers, now)[0] == ""
    assert why in winner_by_rule(experiment, numbers, now)[1]


def test_the_automatic_rule_declares_the_winner_when_it_holds(experiment, actor):
    experiment = experiment_update(
        experiment=experiment, actor=actor, data={"decision_rule": "auto", "mde": 0.1}
    )
    assert decide(experiment, results(), LATER) == "winner"
    decision = Decision.objects.get(experiment=experiment)
    assert (decision.winner, decision.automatic) == ("b", True)
    assert decision.reason == "b beats control by +20.0% (adjusted p = 0.001 < 0.05)"


def test_a_manual_experiment_is_never_decided_by_the_rule(experiment):
    assert decide(experiment, results(), LATER) == ""
    assert Experiment.objects.get(pk=experiment.pk).status == "running"


def test_the_worker_task_applies_the_rules_to_running_experiments(experiment, actor, monkeypatch):
    experiment_update(experiment=experiment, actor=actor, data={"decision_rule": "auto"})
    monkeypatch.setattr(decisions, "_results", lambda e, now: results())
    assert experiments_decide(now=LATER) == {experiment.pk: "winner"}
    assert experiments_decide(now=LATER) == {}  # twice: nothing more
    assert experiments_decide_task() == {}


def test_settings_are_checked_field_by_field_and_nothing_is_half_written(experiment, actor):
    with pytest.raises(ValidationError) as refused:
        experiment_update(experiment=experiment, actor=actor,
                          data={"hypothesis": "Firm converts", "power": 2, "guardrails": {"spam": {"threshold": 1}}})  # fmt: skip
    assert refused.value.message_dict == {
        "power": ["A number from 0.5 to 0.999."],
        "guardrails": [
            "Unknown guardrail 'spam' (one of opt_out_rate, delivery_failure_rate, complaint_replies)."
        ],
    }
    assert Experiment.objects.get(pk=experiment.pk).hypothesis == ""
