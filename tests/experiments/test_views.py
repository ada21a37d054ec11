"""The experiment pages as a marketer sees them: the list across journeys, an experiment's page
(design with errors next to the fields, the sample plan, results with charts and their tables,
warnings in words, stop and declare a winner, decisions) and the split node's panel in the editor."""

import datetime as dt
import json
import re

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from cpaas.tenancy import Actor
from experiments.models import Decision, Experiment
from tests.conftest import client_for
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

AB = {"variants": [{"exit": "a", "name": "Friendly", "weight": 50, "control": True},
                   {"exit": "b", "name": "Firm", "weight": 50}], "experiment": "Promise-to-pay wording"}  # fmt: skip


# the design form's variant rows as the page shows them for AB
ARMS = {"variant-0-label": "Friendly", "variant-0-weight": "50", "variant-1-label": "Firm", "variant-1-weight": "50",
        "control": "a"}  # fmt: skip
DESIGN = {"goal_event": "payment_completed", "goal_window_days": "7", "mde": "10", "power": "80",
          "min_runtime_days": "7", "decision_rule": "manual"}  # fmt: skip


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


def population(experiment, *, days=2, **arms):
    """Contacts exposed to each arm over `days` days and how many converted: population(e,
    a=(1000, 32), b=(1010, 41)); then the results are computed (experiments.results)."""
    from contacts.models import Contact, Event
    from experiments import results
    from experiments.models import ExperimentAssignment

    start = timezone.now() - dt.timedelta(days=days)
    Experiment.objects.filter(pk=experiment.pk).update(started_at=start)
    experiment.started_at = start
    ws = experiment.workspace
    seq = Contact.objects.count()
    for exit_, (n, converted) in arms.items():
        contacts = Contact.objects.bulk_create(
            [Contact(workspace=ws, first_name=f"{exit_}{i}", phone=f"+44791{seq + i:07d}") for i in range(n)]
        )
        seq += n
        exposed = [start + dt.timedelta(seconds=(i * days * 86400) // (n + 1)) for i in range(n)]
        ExperimentAssignment.objects.bulk_create(
            [
                ExperimentAssignment(
                    workspace=ws, experiment=experiment, contact=c, variant=exit_, exposed_at=at
                )
                for c, at in zip(contacts, exposed, strict=True)
            ]  # fmt: skip
        )
        Event.objects.bulk_create(
            [
                Event(
                    workspace=ws,
                    contact=c,
                    name=experiment.goal_event or "payment_completed",
                    occurred_at=at + dt.timedelta(hours=1),
                )
                for c, at in list(zip(contacts, exposed, strict=True))[:converted]
            ]  # fmt: skip
        )
        experiment.arms.filter(exit=exit_).update(exposures=n)
    results.refresh(experiment)
    experiment.refresh_from_db()
    return experiment.results


# --- list -----------------------------------------------------------------------------------------


def test_the_nav_link_opens_the_list_of_experiments_across_journeys(
    workspace, marketer, other_workspace, other_admin
):
    from experiments import stats

    mine = make_experiment(
        workspace, marketer, goal_event="payment_completed", baseline_rate=0.03, mde=0.3, power=0.8
    )
    r = population(mine, a=(300, 9), b=(300, 30))
    make_experiment(workspace, marketer, name="Welcome", publish=False)
    make_experiment(other_workspace, other_admin, name="Theirs")
    client = client_for(marketer)

    home = client.get(reverse("journey_list")).content.decode()
    assert f'href="{reverse("experiment_list")}"' in home

    page = client.get(reverse("experiment_list")).content.decode()
    row = re.search(rf'<tr data-experiment="{mine.pk}">.*?</tr>', page, re.S).group(0)
    cells = [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", c)).strip()
        for c in re.findall(r"<td>(.*?)</td>", row, re.S)
    ]
    assert cells[0].startswith("Promise-to-pay wording") and cells[1] == "Promise-to-pay ab"
    assert cells[2] == "Running" and cells[3] == "Friendly · Firm"
    assert cells[4] == "Firm"  # the leader, and its chance to beat control
    assert r["arms"][1]["chance_to_beat_control"] > 0.999 and cells[5] == "&gt; 99.9 %"
    assert cells[6] == "2"  # days running
    need = stats.required_sample_per_arm(0.03, 0.3, 0.05, 0.8)
    assert f"300 of {need} per arm ({round(100 * 300 / need)} %)" in cells[7]
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
    experiment = make_experiment(workspace, marketer, goal_event="payment_completed", baseline_rate=0.03,
                                 mde=0.1, guardrails={"opt_out_rate": {"threshold": 0.01}})  # fmt: skip
    r = population(experiment, a=(1000, 32), b=(1010, 41))
    page = client_for(marketer).get(reverse("experiment_detail", args=[experiment.pk])).content.decode()
    assert escape(r["summary"]) in page
    assert r["summary"].startswith("Firm converts 4.1 % against 3.2 %")
    warnings = re.search(r'<div class="form-errors" role="alert" id="warnings">.*?</div>', page, re.S).group(
        0
    )
    assert "Underpowered: each arm needs" in warnings and "Peeking:" in warnings
    arm_b = re.search(r'<tr data-arm="b">.*?</tr>', page, re.S).group(0)
    b = r["arms"][1]
    assert "<td>1010</td><td>41</td>" in arm_b and "4.06 %" in arm_b
    assert f"{100 * b['rate']['low']:.2f} % to {100 * b['rate']['high']:.2f} %" in arm_b
    assert (
        f"{100 * b['lift']['relative']:+.1f} %" in arm_b
        and f"{100 * b['chance_to_beat_control']:.1f} %" in arm_b  # 0.846: not clamped
    )
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
    assert rate["data"]["labels"] == r["series"]["dates"] and len(rate["data"]["labels"]) >= 2
    band = [d for d in rate["data"]["datasets"] if d["label"] == "Firm: 95% interval"][0]
    assert band["fill"] == "-1" and band["data"][-1] == round(100 * b["rate"]["high"], 3)
    exposures = re.search(r'<table class="table" id="exposure-table">.*?</table>', page, re.S).group(0)
    day = r["series"]["dates"][0]
    first = [r["series"]["arms"][e]["exposures"][0] for e in ("a", "b")]
    assert f"<tr><td>{day}</td><td>{first[0]}</td><td>{first[1]}</td></tr>" in exposures
    rates = re.search(r'<table class="table" id="rate-table">.*?</table>', page, re.S).group(0)
    last = r["series"]["dates"][-1]
    assert f"<td>{last}</td><td>Firm</td><td>1010</td><td>41</td><td>4.06 %" in rates
    guard = re.search(r'<table class="table" id="guardrail-table">.*?</table>', page, re.S).group(0)
    assert "Opt-out rate" in guard and "limit 1.00 points above control" in guard


def test_each_chart_downloads_its_table_as_csv(workspace, marketer):
    import csv
    import io

    experiment = make_experiment(workspace, marketer, goal_event="payment_completed", baseline_rate=0.03,
                                 mde=0.1, guardrails={"opt_out_rate": {"threshold": 0.01}})  # fmt: skip
    r = population(experiment, a=(1000, 32), b=(1010, 41))
    client = client_for(marketer)
    page = client.get(reverse("experiment_detail", args=[experiment.pk])).content.decode()
    got = {}
    for chart_id in ("chart-rate", "chart-exposures", "chart-guardrails"):
        link = (
            re.search(rf'<a href="([^"]+)" download id="{chart_id}-csv">', page)
            .group(1)
            .replace("&amp;", "&")
        )
        response = client.get(link)
        assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
        got[chart_id] = list(
            csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig")))
        )
    last = r["series"]["dates"][-1]
    assert got["chart-rate"][0][:5] == ["Day", "Arm", "Exposed", "Converted", "Rate"]
    firm = [row for row in got["chart-rate"] if row[0] == last and row[1] == "Firm"][0]
    assert firm[2:4] == ["1010", "41"] and float(firm[4]) == pytest.approx(41 / 1010, abs=1e-4)
    day = r["series"]["dates"][0]
    first = [str(r["series"]["arms"][e]["exposures"][0]) for e in ("a", "b")]
    assert [day, *first] in got["chart-exposures"]
    assert got["chart-guardrails"][1][0] == "Opt-out rate"
    assert (
        client.get(reverse("experiment_detail", args=[experiment.pk]) + "?format=csv&chart=x").status_code
        == 404
    )


def test_an_unknown_goal_event_is_refused_next_to_its_field_and_nothing_is_saved(workspace, marketer):
    experiment = make_experiment(workspace, marketer, publish=False)
    response = client_for(marketer).post(reverse("experiment_detail", args=[experiment.pk]), {**ARMS,
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
    response = client_for(marketer).post(reverse("experiment_detail", args=[experiment.pk]), {**ARMS,
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
    response = client_for(marketer).post(reverse("experiment_detail", args=[experiment.pk]), {**ARMS,
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
    assert "nobody entered the journey in the last 7 days" in page
    # before the split is live, the plan uses the journey's entries: 14 this week
    fire_steps(experiment, 14, reach_split=False)
    page = client_for(marketer).get(reverse("experiment_detail", args=[experiment.pk])).content.decode()
    assert "2.0 contacts a day enter the journey (the split is not live yet)" in page
    assert f"about {-(-need // 1)} days" in page
    # 70 contacts reached the split this week: 10 a day, 5 a day per arm
    fire_steps(experiment, 70)
    page = client_for(marketer).get(reverse("experiment_detail", args=[experiment.pk])).content.decode()
    assert "10.0 contacts a day reach the split (average of the last 7 days)" in page
    assert f"about {-(-need // 5)} days" in page


def test_a_draft_split_s_variants_are_edited_on_the_page_and_written_into_the_journey(workspace, marketer):
    from journeys.models import Journey
    from journeys.services import draft_for

    experiment = make_experiment(workspace, marketer, publish=False)
    client = client_for(marketer)
    url = reverse("experiment_detail", args=[experiment.pk])
    # weights that do not add up to 100: said next to the variants, nothing saved
    response = client.post(url, {**DESIGN, **ARMS, "variant-1-weight": "40"})
    assert response.status_code == 400
    field = re.search(
        r'<fieldset class="field has-error" id="variants".*?</fieldset>', response.content.decode(), re.S
    ).group(0)
    assert "The weights add up to 90; they must add up to 100." in field
    assert 'value="40"' in field  # what was typed is shown again
    # no control: said there too
    response = client.post(url, {**DESIGN, **{k: v for k, v in ARMS.items() if k != "control"}})
    assert "Choose which variant is the control" in response.content.decode()
    experiment.refresh_from_db()
    assert experiment.goal_event == "" and [v["weight"] for v in experiment.variants] == [50, 50]
    # right: the split's config in the journey's draft changes, and the experiment follows it
    response = client.post(url, {**DESIGN, **ARMS, "variant-0-weight": "70", "variant-1-weight": "30",
                                 "variant-1-label": "Firm reminder", "control": "b"})  # fmt: skip
    assert response.status_code == 302
    config = draft_for(Journey.objects.get(pk=experiment.journey_id)).graph["nodes"]["ab"]["config"]
    assert config["variants"] == [{"exit": "a", "weight": 70, "name": "Friendly"},
                                  {"exit": "b", "weight": 30, "name": "Firm reminder", "control": True}]  # fmt: skip
    experiment.refresh_from_db()
    assert [(v["weight"], v["name"], v["control"]) for v in experiment.variants] == [
        (70, "Friendly", False),
        (30, "Firm reminder", True),
    ]
    assert experiment.goal_event == "payment_completed"


def test_a_running_experiment_keeps_its_design(workspace, marketer):
    experiment = make_experiment(workspace, marketer, goal_event="payment_completed", mde=0.2)
    client = client_for(marketer)
    page = client.get(reverse("experiment_detail", args=[experiment.pk])).content.decode()
    assert "The design is fixed once the experiment has started" in page
    client.post(reverse("experiment_detail", args=[experiment.pk]),
                {**ARMS, "variant-0-weight": "90", "variant-1-weight": "10",
                 "hypothesis": "Clearer now", "goal_event": "signup", "mde": "50"})  # fmt: skip
    experiment.refresh_from_db()
    assert (experiment.hypothesis, experiment.goal_event, experiment.mde) == (
        "Clearer now",
        "payment_completed",
        0.2,
    )


def test_declare_the_winner_then_it_is_in_the_decisions(workspace, marketer):
    experiment = make_experiment(workspace, marketer, goal_event="payment_completed")
    population(experiment, a=(1000, 32), b=(1010, 41))
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
    assert (
        "Winner: Firm" in decisions
        and "Firm wins" in decisions
        and "Friendly: 32/1000 (3.20 %); Firm: 41/1010 (4.06 %)" in decisions
    )
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
    experiment = make_experiment(workspace, marketer, goal_event="payment_completed")
    r = population(experiment, a=(100, 3), b=(100, 4))
    client = client_for(viewer)
    page = client.get(reverse("experiment_detail", args=[experiment.pk])).content.decode()
    assert escape(r["summary"]) in page and 'id="declare"' not in page and 'id="save-design"' not in page
    assert (
        client.post(reverse("experiment_action", args=[experiment.pk]), {"action": "stop"}).status_code == 403
    )
    assert (
        client.post(reverse("experiment_detail", args=[experiment.pk]), {"hypothesis": "x"}).status_code
        == 403
    )
    experiment.refresh_from_db()
    assert experiment.status == "running"


def test_refresh_asks_the_worker_and_the_card_polls_until_the_new_results(
    workspace, marketer, django_capture_on_commit_callbacks
):
    experiment = make_experiment(workspace, marketer, goal_event="payment_completed")
    population(experiment, a=(50, 2), b=(50, 9))
    Experiment.objects.filter(pk=experiment.pk).update(results={}, results_computed_at=None)
    client = client_for(marketer)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(reverse("experiment_refresh", args=[experiment.pk]), HTTP_HX_REQUEST="true")
    assert len(callbacks) == 1  # the worker's task, queued once the request commits (run inline here)
    card = response.content.decode()
    assert card.lstrip().startswith('<section class="card" id="results"')
    assert "Computing the results…" in card
    poll = re.search(r'hx-get="([^"]+)"', card).group(1).replace("&amp;", "&")
    experiment.refresh_from_db()
    assert experiment.results_computed_at is not None and experiment.results["arms"][1]["conversions"] == 9
    # the poll finds the new results: the card shows them and stops polling
    card = client.get(poll, HTTP_HX_REQUEST="true").content.decode()
    assert "Computing" not in card and "hx-get" not in card.split(">", 1)[0]
    assert '<tr data-arm="b">' in card


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

    def _fire(experiment, n, reach_split=True):
        journey = Journey.objects.get(pk=experiment.journey_id)
        version = journey.versions.order_by("-id").first()
        now = timezone.now()
        for i in range(n):
            contact = ContactFactory(workspace=workspace)
            enrollment = Enrollment.objects.create(workspace=workspace, journey=journey, version=version,
                                                   contact=contact, node="ab", entered_at=now)  # fmt: skip
            if reach_split:
                Step.objects.create(enrollment=enrollment, journey=journey, node="ab", node_type="split.ab",
                                    exit="a", at=now - dt.timedelta(hours=i))  # fmt: skip

    return _fire


def test_the_list_reads_a_fixed_number_of_queries(workspace, marketer, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(marketer)
    for i in range(2):
        make_experiment(workspace, marketer, name=f"J{i}", goal_event="payment_completed")
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse("experiment_list")).status_code == 200
    for i in range(2, 8):
        make_experiment(workspace, marketer, name=f"J{i}", goal_event="payment_completed")
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(reverse("experiment_list")).content.decode()
    assert page.count("<tr data-experiment=") == 8


def test_a_traffic_split_off_its_weights_is_said_in_words(workspace, marketer):
    experiment = make_experiment(workspace, marketer, goal_event="payment_completed", sequential=True)
    population(experiment, a=(1000, 30), b=(820, 30))  # planned 50/50
    page = client_for(marketer).get(reverse("experiment_detail", args=[experiment.pk])).content.decode()
    warnings = re.search(r'<div class="form-errors" role="alert" id="warnings">.*?</div>', page, re.S).group(
        0
    )
    assert 'data-warning="srm"' in warnings and "Sample-ratio mismatch" in warnings
    assert "the split is not as planned" in page
    assert 'data-warning="peeking"' not in warnings  # the sequential mode: looking early is safe


def test_the_journey_page_links_each_split_to_its_experiment(workspace, marketer):
    from journeys.models import Journey

    experiment = make_experiment(workspace, marketer)
    journey = Journey.objects.get(pk=experiment.journey_id)
    page = client_for(marketer).get(reverse("journey_detail", args=[journey.pk])).content.decode()
    row = re.search(r'<table class="table" id="node-counters">.*?</table>', page, re.S).group(0)
    assert (
        f'<a href="{reverse("experiment_detail", args=[experiment.pk])}">Experiment: Promise-to-pay wording</a>'
        in row
    )
    assert "Running" in row
