"""The experiment pages as a marketer sees them: the list across journeys, an experiment's page
(design with errors next to the fields, the sample plan, results with charts and their tables,
warnings in words, stop and declare a winner, decisions) and the split node's panel in the editor."""

import datetime as dt
import json
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from cpaas.tenancy import Actor
from experiments.models import Decision, Experiment
from tests.conftest import client_for
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

AB = {"variants": [{"exit": "a", "name": "Friendly", "weight": 50, "control": True},
                   {"exit": "b", "name": "Firm", "weight": 50}], "experiment": "Promise-to-pay wording"}  # fmt: skip


def ab_graph(config=None):
    return {
        "schema": 1,
        "start": "trigger",
        "nodes": {
            "trigger": {
                "type": "trigger.event",
                "config": {"event": "payment_failed"},
                "exits": {"next": "ab"},
            },
            "ab": {"type": "split.ab", "config": config or AB, "exits": {"a": None, "b": None}},
        },
    }


def make_experiment(workspace, user, *, publish=True, name="Promise-to-pay", **fields) -> Experiment:
    """A journey with an A/B split (published: running), and its experiment."""
    from journeys.services import journey_create, journey_publish

    journey = journey_create(workspace=workspace, actor=Actor.for_user(user), name=name, graph=ab_graph())
    if publish:
        journey_publish(journey=journey, actor=Actor.for_user(user), note="v1")
    experiment, _ = Experiment.objects.get_or_create(
        journey_id=journey.pk, node="ab",
        defaults={"workspace": workspace, "name": AB["experiment"], "variants": [
            {"exit": "a", "name": "Friendly", "weight": 50, "control": True},
            {"exit": "b", "name": "Firm", "weight": 50, "control": False}]},
    )  # fmt: skip
    if publish and experiment.status == Experiment.Status.DRAFT:
        experiment.status, experiment.started_at = Experiment.Status.RUNNING, timezone.now()
    for key, value in fields.items():
        setattr(experiment, key, value)
    experiment.save()
    return experiment


RESULTS = {
    "arms": [
        {"name": "a", "control": True, "exposures": 1000, "conversions": 32, "rate": 0.032,
         "interval": [0.0227, 0.0449], "expected_loss": 0.0091},
        {"name": "b", "control": False, "exposures": 1010, "conversions": 41, "rate": 0.0406,
         "interval": [0.0300, 0.0547], "absolute_lift": {"value": 0.0086, "interval": [-0.0078, 0.025]},
         "relative_lift": {"value": 0.268, "interval": [-0.2, 0.74]}, "p_value": 0.31, "p_value_adjusted": 0.31,
         "chance_to_beat_control": 0.846, "expected_loss": 0.0006},
    ],
    "srm": {"p_value": 0.82, "mismatch": False},
    "guardrails": [{"metric": "opt_out_rate", "label": "Opt-out rate", "breached": False,
                    "arms": {"a": {"rate": 0.004}, "b": {"rate": 0.005}}}],
    "daily": [
        {"date": "2026-12-01", "arms": {"a": {"new_exposures": 500, "exposures": 500, "conversions": 14, "rate": 0.028, "interval": [0.0168, 0.0464]},
                                        "b": {"new_exposures": 505, "exposures": 505, "conversions": 19, "rate": 0.0376, "interval": [0.0242, 0.0579]}}},
        {"date": "2026-12-02", "arms": {"a": {"new_exposures": 500, "exposures": 1000, "conversions": 32, "rate": 0.032, "interval": [0.0227, 0.0449]},
                                        "b": {"new_exposures": 505, "exposures": 1010, "conversions": 41, "rate": 0.0406, "interval": [0.0300, 0.0547]}}},
    ],
    "summary": "Firm converts 4.1 % against 3.2 % (+27 %, 95 % interval −20 % to +74 %); not significant yet.",
    "warnings": ["Underpowered: each arm needs 5,300 contacts to find a 10 % change; the smallest has 1,000."],
}  # fmt: skip


# --- list -----------------------------------------------------------------------------------------


def test_the_nav_link_opens_the_list_of_experiments_across_journeys(
    workspace, marketer, other_workspace, other_admin
):
    from experiments import stats

    mine = make_experiment(workspace, marketer, results=RESULTS, baseline_rate=0.03, mde=0.3, power=0.8)
    make_experiment(workspace, marketer, name="Welcome", publish=False)
    make_experiment(other_workspace, other_admin, name="Theirs")
    client = client_for(marketer)

    home = client.get(reverse("journey_list")).content.decode()
    assert f'href="{reverse("experiment_list")}"' in home

    page = client.get(reverse("experiment_list")).content.decode()
    row = re.search(rf'<tr data-experiment="{mine.pk}">.*?</tr>', page, re.S).group(0)
    assert "Promise-to-pay wording" in row and "Promise-to-pay" in row  # the experiment and its journey
    assert "Running" in row and "Friendly · Firm" in row
    assert "Firm" in row.split("Friendly · Firm")[1]  # the leader
    assert "84.6 %" in row  # its chance to beat control
    need = stats.required_sample_per_arm(0.03, 0.3, 0.05, 0.8)
    assert f"0 of {need} per arm (0 %)" in row  # sample progress against the plan
    assert "Welcome" in page and "Draft" in page
    assert "Theirs" not in page


def test_the_list_shows_sample_progress_against_the_planned_sample(workspace, marketer):
    from experiments import stats

    experiment = make_experiment(workspace, marketer, baseline_rate=0.03, mde=0.3, power=0.8)
    experiment.arms.filter(exit="a").update(exposures=400)
    experiment.arms.filter(exit="b").update(exposures=380)
    need = stats.required_sample_per_arm(0.03, 0.3, 0.05, 0.8)
    page = client_for(marketer).get(reverse("experiment_list")).content.decode()
    assert f"380 of {need} per arm ({round(100 * 380 / need)} %)" in page


def test_an_agent_sees_no_experiments(workspace, agent):
    client = client_for(agent)
    assert reverse("experiment_list") not in client.get(reverse("contact_list")).content.decode()
    assert client.get(reverse("experiment_list")).status_code == 403


# --- the experiment page -------------------------------------------------------------------------


def test_the_page_shows_summary_warnings_arms_charts_and_their_tables(workspace, marketer):
    experiment = make_experiment(workspace, marketer, results=RESULTS, results_computed_at=timezone.now())
    page = client_for(marketer).get(reverse("experiment_detail", args=[experiment.pk])).content.decode()
    assert RESULTS["summary"] in page
    assert "Underpowered: each arm needs 5,300 contacts" in page
    arm_b = re.search(r'<tr data-arm="b">.*?</tr>', page, re.S).group(0)
    assert "1010" in arm_b and "41" in arm_b and "4.06 %" in arm_b and "3.00 % to 5.47 %" in arm_b
    assert "+26.8 %" in arm_b and "-20.0 % to +74.0 %" in arm_b and "84.6 %" in arm_b
    assert "as planned" in page  # the traffic split check
    # three charts, each with its configuration and a table of the same numbers
    configs = {
        m: json.loads(v)
        for m, v in re.findall(
            r'<script id="(chart-[a-z]+)" type="application/json">(.*?)</script>', page, re.S
        )
    }
    assert set(configs) == {"chart-rate", "chart-exposures", "chart-guardrails"}
    rate = configs["chart-rate"]
    assert rate["data"]["labels"] == ["2026-12-01", "2026-12-02"]
    band = [d for d in rate["data"]["datasets"] if d["label"] == "b: 95% interval"][0]
    assert band["fill"] == "-1" and band["data"] == [5.79, 5.47]
    assert "rate-table" in page and "exposure-table" in page and "guardrail-table" in page
    exposures = re.search(r'<table class="table" id="exposure-table">.*?</table>', page, re.S).group(0)
    assert "<tr><td>2026-12-02</td><td>500</td><td>505</td></tr>" in exposures
    rates = re.search(r'<table class="table" id="rate-table">.*?</table>', page, re.S).group(0)
    assert "<td>2026-12-01</td><td>b</td><td>505</td><td>19</td><td>3.76 %" in rates


def test_an_unknown_goal_event_is_refused_next_to_its_field_and_nothing_is_saved(workspace, marketer):
    experiment = make_experiment(workspace, marketer, publish=False)
    response = client_for(marketer).post(reverse("experiment_detail", args=[experiment.pk]), {
        "hypothesis": "Firm gets more payments", "goal_event": "payment_complete", "goal_window_days": "7",
        "mde": "10", "power": "80", "baseline": "3", "min_runtime_days": "7", "decision_rule": "manual"})  # fmt: skip
    assert response.status_code == 400
    page = response.content.decode()
    field = re.search(r'<div class="field grow has-error">.*?</div>\s*</div>', page, re.S).group(0)
    assert "No &#x27;payment_complete&#x27; event has been received in this workspace yet" in field
    experiment.refresh_from_db()
    assert experiment.hypothesis == "" and experiment.goal_event == ""


def test_bad_numbers_are_refused_next_to_their_fields(workspace, marketer):
    experiment = make_experiment(workspace, marketer, publish=False)
    response = client_for(marketer).post(reverse("experiment_detail", args=[experiment.pk]), {
        "goal_event": "payment_completed", "goal_window_days": "0", "mde": "ten", "power": "100",
        "min_runtime_days": "7", "decision_rule": "manual"})  # fmt: skip
    page = response.content.decode()
    assert response.status_code == 400
    assert "Enter a window in whole days from 1 to 90." in page
    assert "Enter the effect in % (relative) as a number." in page
    assert "Enter the power in % from 50 to 99." in page
    experiment.refresh_from_db()
    assert experiment.goal_event == ""


def test_the_design_is_saved_and_the_plan_shows_sample_and_duration(workspace, marketer, fire_steps):
    from experiments import stats

    experiment = make_experiment(workspace, marketer, publish=False)
    response = client_for(marketer).post(reverse("experiment_detail", args=[experiment.pk]), {
        "hypothesis": "Firm wording gets more payments within 7 days", "goal_event": "payment_completed",
        "goal_window_days": "7", "baseline": "3", "mde": "30", "power": "80", "min_runtime_days": "7",
        "guardrails": ["opt_out_rate"], "threshold-opt_out_rate": "0.5", "secondary": ["reply_rate"],
        "sequential": "on", "auto_stop": "on", "decision_rule": "manual"})  # fmt: skip
    assert response.status_code == 302
    experiment.refresh_from_db()
    assert experiment.goal_event == "payment_completed" and experiment.goal_window_s == 7 * 86400
    assert experiment.mde == pytest.approx(0.3) and experiment.power == pytest.approx(0.8)
    assert experiment.baseline_rate == pytest.approx(0.03) and experiment.sequential
    assert experiment.guardrails == {"opt_out_rate": {"threshold": pytest.approx(0.005)}}
    assert experiment.secondary_metrics == ["reply_rate"]
    need = stats.required_sample_per_arm(0.03, 0.3, 0.05, 0.8)
    page = client_for(marketer).get(reverse("experiment_detail", args=[experiment.pk])).content.decode()
    assert f'<span class="count-big" id="per-arm">{need}</span>' in page
    assert "nobody reached the split in the last 7 days" in page
    # 70 contacts reached the split this week: 10 a day, 5 a day per arm
    fire_steps(experiment, 70)
    page = client_for(marketer).get(reverse("experiment_detail", args=[experiment.pk])).content.decode()
    assert "10.0 contacts a day reach the split" in page
    assert f"about {-(-need // 5)} days" in page


def test_a_running_experiment_keeps_its_design(workspace, marketer):
    experiment = make_experiment(workspace, marketer, goal_event="payment_completed", mde=0.2)
    client = client_for(marketer)
    page = client.get(reverse("experiment_detail", args=[experiment.pk])).content.decode()
    assert "The design is fixed once the experiment has started" in page
    client.post(reverse("experiment_detail", args=[experiment.pk]),
                {"hypothesis": "Clearer now", "goal_event": "signup", "mde": "50"})  # fmt: skip
    experiment.refresh_from_db()
    assert (experiment.hypothesis, experiment.goal_event, experiment.mde) == (
        "Clearer now",
        "payment_completed",
        0.2,
    )


def test_declare_the_winner_then_it_is_in_the_decisions(workspace, marketer):
    experiment = make_experiment(workspace, marketer, results=RESULTS)
    client = client_for(marketer)
    page = client.get(reverse("experiment_detail", args=[experiment.pk])).content.decode()
    assert 'id="declare"' in page and '<option value="b" selected>Firm</option>' in page
    response = client.post(reverse("experiment_action", args=[experiment.pk]),
                           {"action": "declare", "winner": "b", "note": "Firm wins"}, follow=True)  # fmt: skip
    page = response.content.decode()
    assert "Firm is the winner" in page
    experiment.refresh_from_db()
    assert experiment.status == "decided" and experiment.winner == "b"
    decisions = re.search(r'<ol class="timeline" id="decisions">.*?</ol>', page, re.S).group(0)
    assert "Winner: Firm" in decisions and "Firm wins" in decisions and "b: 41/1010 (4.06 %)" in decisions
    assert Decision.objects.get(experiment=experiment).winner == "b"
    # a decided experiment cannot be decided again: said in words
    response = client.post(
        reverse("experiment_action", args=[experiment.pk]), {"action": "declare", "winner": "a"}
    )
    assert response.status_code == 400
    assert "Only a running experiment can get a winner" in response.content.decode()


def test_stop_sends_new_traffic_to_control(workspace, marketer):
    experiment = make_experiment(workspace, marketer)
    response = client_for(marketer).post(reverse("experiment_action", args=[experiment.pk]), {"action": "stop"},
                                         follow=True)  # fmt: skip
    assert "Stopped: new entrants take the control" in response.content.decode()
    experiment.refresh_from_db()
    assert experiment.status == "stopped"


def test_a_viewer_reads_but_cannot_change(workspace, viewer, marketer):
    experiment = make_experiment(workspace, marketer, results=RESULTS)
    client = client_for(viewer)
    page = client.get(reverse("experiment_detail", args=[experiment.pk])).content.decode()
    assert RESULTS["summary"] in page and 'id="declare"' not in page and 'id="save-design"' not in page
    assert (
        client.post(reverse("experiment_action", args=[experiment.pk]), {"action": "stop"}).status_code == 403
    )
    assert (
        client.post(reverse("experiment_detail", args=[experiment.pk]), {"hypothesis": "x"}).status_code
        == 403
    )
    experiment.refresh_from_db()
    assert experiment.status == "running"


def test_refresh_recomputes_and_answers_the_results_partial(workspace, marketer):
    experiment = make_experiment(workspace, marketer)
    response = client_for(marketer).post(
        reverse("experiment_refresh", args=[experiment.pk]), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert page.lstrip().startswith('<section class="card" id="results"')
    experiment.refresh_from_db()
    assert experiment.results_computed_at is not None


# --- the split node's panel in the editor ----------------------------------------------------------


def test_the_split_panel_shows_the_experiment_and_edits_its_essentials(workspace, marketer):
    experiment = make_experiment(workspace, marketer, publish=False)
    client = client_for(marketer)
    url = reverse("editor_experiment", args=[experiment.journey_id])
    page = client.get(url, {"node": "ab"}).content.decode()
    assert "Draft" in page and "Starts when the journey is published." in page
    assert reverse("experiment_detail", args=[experiment.pk]) in page
    # an unknown goal event: said next to the field, nothing saved
    response = client.post(
        url, {"node": "ab", "hypothesis": "Firm wins", "goal_event": "paid", "goal_window_days": "7"}
    )
    assert response.status_code == 400
    assert "No &#x27;paid&#x27; event has been received" in response.content.decode()
    experiment.refresh_from_db()
    assert experiment.goal_event == ""
    response = client.post(url, {"node": "ab", "hypothesis": "Firm wins", "goal_event": "payment_completed",
                                 "goal_window_days": "3"})  # fmt: skip
    assert response.status_code == 200
    experiment.refresh_from_db()
    assert (experiment.hypothesis, experiment.goal_event, experiment.goal_window_s) == (
        "Firm wins",
        "payment_completed",
        3 * 86400,
    )


def test_the_split_panel_before_the_experiment_exists_and_for_a_viewer(workspace, marketer, viewer):
    from journeys.services import journey_create

    journey = journey_create(workspace=workspace, actor=Actor.for_user(marketer), name="J")
    url = reverse("editor_experiment", args=[journey.pk])
    page = client_for(marketer).get(url, {"node": "split_ab_1"}).content.decode()
    assert "The experiment is created when the journey is saved" in page
    experiment = make_experiment(workspace, marketer, publish=False)
    url = reverse("editor_experiment", args=[experiment.journey_id])
    page = client_for(viewer).get(url, {"node": "ab"}).content.decode()
    assert "<fieldset disabled" in page and 'id="experiment-save"' not in page
    assert client_for(viewer).post(url, {"node": "ab", "hypothesis": "x"}).status_code == 403


def test_the_variants_subform_reads_names_and_the_control(workspace, marketer):
    from journeys.services import journey_create

    journey = journey_create(workspace=workspace, actor=Actor.for_user(marketer), name="J")
    client = client_for(marketer)
    url = reverse("editor_node_form", args=[journey.pk])
    base = {"type": "split.ab", "node": "ab", "config": json.dumps(AB), "apply": "1", "cfg-variants-rows": "1",
            "cfg-variants-0-exit": "a", "cfg-variants-0-weight": "50", "cfg-variants-0-name": "Friendly",
            "cfg-variants-1-exit": "b", "cfg-variants-1-weight": "50", "cfg-variants-1-name": "Firm"}  # fmt: skip
    # no control: said on the field
    page = client.post(url, base).content.decode()
    assert "Mark one variant as the control" in page
    page = client.post(url, {**base, "cfg-variants-0-control": "on"}).content.decode()
    config = json.loads(
        re.search(r'<script id="config-out" type="application/json">(.*?)</script>', page, re.S).group(1)
    )
    assert config["variants"] == [{"exit": "a", "weight": 50, "name": "Friendly", "control": True},
                                  {"exit": "b", "weight": 50, "name": "Firm"}]  # fmt: skip


@pytest.fixture
def fire_steps(workspace):
    """fire_steps(experiment, n): n contacts reached the experiment's split in the last days."""
    from journeys.models import Enrollment, Journey, Step

    def _fire(experiment, n):
        journey = Journey.objects.get(pk=experiment.journey_id)
        version = journey.versions.order_by("-id").first()
        now = timezone.now()
        for i in range(n):
            contact = ContactFactory(workspace=workspace)
            enrollment = Enrollment.objects.create(workspace=workspace, journey=journey, version=version,
                                                   contact=contact, node="ab", entered_at=now)  # fmt: skip
            Step.objects.create(enrollment=enrollment, journey=journey, node="ab", node_type="split.ab",
                                exit="a", at=now - dt.timedelta(hours=i))  # fmt: skip

    return _fire
