"""The experiment pages: the list across journeys, and an experiment's page (its design form with
the sample plan, start / stop / declare a winner, results with charts and their tables, the
summary and warnings in words, refresh, the CSV export, the decisions). Thin: parse, check
permission, call one service, render."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST

from contacts.event_names import event_names
from cpaas.charts import chart_csv, wants_csv
from cpaas.roles import role_allows
from cpaas.tenancy import Actor, workspace_required

from . import charts, journey_facts, presenting, results, selectors, services
from .forms import (
    GUARDRAIL_CHOICES,
    SECONDARY_CHOICES,
    design_from_post,
    design_values,
    design_variants,
    variants_from_post,
)
from .models import Experiment


def _experiment_or_404(request, pk) -> Experiment:
    try:
        return selectors.experiment_get(workspace=request.workspace, pk=pk)
    except Experiment.DoesNotExist:
        raise Http404 from None


@workspace_required("experiments.view")
def experiment_list(request):
    status = request.GET.get("status", "")
    experiments = list(selectors.experiment_list(workspace=request.workspace, status=status))
    names = journey_facts.journey_names(
        workspace=request.workspace, journey_ids={e.journey_id for e in experiments}
    )
    now = timezone.now()
    rows = [presenting.list_row(e, journey_name=names.get(e.journey_id, f"Journey {e.journey_id}"), now=now)
            for e in experiments]  # fmt: skip
    return TemplateResponse(request, "experiments/list.html",
                            {"rows": rows, "status": status, "statuses": Experiment.Status.choices})  # fmt: skip


def _detail_context(request, experiment: Experiment, *, form=None, action_errors=None) -> dict:
    now = timezone.now()
    names = journey_facts.journey_names(workspace=request.workspace, journey_ids={experiment.journey_id})
    journey_name = names.get(experiment.journey_id, f"Journey {experiment.journey_id}")
    if form is None:
        form = {"values": design_values(experiment), "errors": {}, "variants": design_variants(experiment)}
    context = {
        "exp": presenting.header(
            experiment,
            journey_name=journey_name,
            now=now,
            editor_url=reverse("editor", args=[experiment.journey_id]),
        ),  # fmt: skip
        "form": form,
        "plan": presenting.plan(experiment, now=now),
        "events": event_names(workspace=request.workspace),
        "guardrail_choices": GUARDRAIL_CHOICES,
        "secondary_choices": SECONDARY_CHOICES,
        "rule_choices": Experiment.Rule.choices,
        "decisions": [presenting.decision(d) for d in experiment.decisions.all()[:50]],
        "action_errors": action_errors or [],
    }
    context.update(results_context(experiment))
    return context


def results_context(experiment: Experiment) -> dict:
    results = experiment.results or {}
    if not results.get("arms"):
        return {"results": None, "results_at": experiment.results_computed_at, "arms": [], "leader": ""}
    rate_chart, rate_rows = charts.cumulative_rate(results)
    exposure_chart, exposure_rows = charts.exposures_per_day(results)
    guardrail_chart, guardrail_rows = charts.guardrails(results)
    return {
        "results": results,
        "results_at": experiment.results_computed_at,
        "arms": presenting.arms(results, experiment),
        "leader": presenting.leader(results)[0],
        "srm_p": presenting.p_text((results.get("srm") or {}).get("p_value")),
        "rate_chart": rate_chart,
        "rate_rows": [presenting.rate_row(r) for r in rate_rows],
        "exposure_chart": exposure_chart,
        "exposure_rows": exposure_rows,
        "guardrail_chart": guardrail_chart,
        "guardrail_rows": [presenting.guardrail_row(g) for g in guardrail_rows],
        "csv_base": reverse("experiment_detail", args=[experiment.pk]) + "?format=csv&chart=",
    }


@workspace_required("experiments.view")
def experiment_detail(request, pk):
    experiment = _experiment_or_404(request, pk)
    if request.method != "POST":
        if request.GET.get("part") == "results":
            return _results_partial(request, experiment)
        if wants_csv(request):  # a chart's table (cpaas.charts)
            return chart_csv(request, charts.tables(experiment.results or {}), f"experiment-{experiment.pk}")
        return TemplateResponse(request, "experiments/detail.html", _detail_context(request, experiment))
    if not role_allows(request.role, "experiments.edit"):
        raise PermissionDenied(f"Your role ({request.role}) does not allow editing experiments.")
    header = presenting.header(experiment, journey_name="", now=timezone.now(), editor_url="")
    changes, errors, values = design_from_post(experiment, request.POST, full=header["editable"])
    variants, rows = None, design_variants(experiment)
    if header["variants_editable"]:
        variants, variant_errors, rows = variants_from_post(experiment, request.POST)
        if variant_errors:
            errors["variants"] = variant_errors
    actor = Actor.from_request(request)
    if not errors:
        try:
            with transaction.atomic():  # the split's variants and the settings, or nothing
                if variants is not None:
                    journey_facts.split_variants_save(workspace=request.workspace, journey_id=experiment.journey_id,
                                                      node=experiment.node, variants=variants, actor=actor)  # fmt: skip
                    experiment.refresh_from_db()
                services.experiment_update(experiment=experiment, actor=actor, data=changes)
        except ValidationError as exc:
            errors = exc.message_dict if hasattr(exc, "error_dict") else {"general": exc.messages}
            experiment.refresh_from_db()
    if errors:
        form = {"values": values, "errors": errors, "variants": rows, "general": errors.get("general", [])}
        context = _detail_context(request, experiment, form=form)
        return TemplateResponse(request, "experiments/detail.html", context, status=400)
    messages.success(request, "Saved.")
    return redirect("experiment_detail", pk=experiment.pk)


@require_POST
@workspace_required("experiments.edit")
def experiment_action(request, pk):
    experiment = _experiment_or_404(request, pk)
    action = request.POST.get("action", "")
    actor = Actor.from_request(request)
    now = timezone.now()
    try:
        if action == "stop":
            services.experiment_stop(
                experiment=experiment, actor=actor, now=now, reason=request.POST.get("note", "")
            )
            messages.success(
                request,
                "Stopped: new entrants take the control's exit; contacts already assigned keep their arm.",
            )
        elif action == "declare":
            winner = request.POST.get("winner", "")
            services.experiment_declare_winner(experiment=experiment, actor=actor, winner=winner, now=now,
                                               reason=request.POST.get("note", ""))  # fmt: skip
            messages.success(request, f"{presenting.variant_label(experiment, winner)} is the winner: new entrants "
                                      "take its exit; contacts already assigned keep their arm.")  # fmt: skip
        else:
            raise ValidationError({"action": [f"Unknown action '{action}'."]})
    except ValidationError as exc:
        experiment.refresh_from_db()
        context = _detail_context(request, experiment, action_errors=exc.messages)
        return TemplateResponse(request, "experiments/detail.html", context, status=400)
    return redirect("experiment_detail", pk=experiment.pk)


@require_POST
@workspace_required("experiments.view")
def experiment_refresh(request, pk):
    """Ask the worker to compute the results now (they are also refreshed every 10 minutes); the
    page shows the cached numbers and polls until the new ones are stored."""
    experiment = _experiment_or_404(request, pk)
    asked = timezone.now()
    results.refresh_later(experiment)
    if request.htmx:
        context = _detail_context(request, experiment)
        context["refreshing_since"] = asked.isoformat()
        return TemplateResponse(request, "experiments/detail.html#results", context)
    messages.info(request, "Computing the results: reload the page in a moment.")
    return redirect("experiment_detail", pk=experiment.pk)


def _results_partial(request, experiment):
    """The results card, polled after a refresh: it keeps polling (for up to a minute) until
    the worker has stored results newer than the request."""
    context = _detail_context(request, experiment)
    since = parse_datetime(request.GET.get("since", "") or "")
    if since and (experiment.results_computed_at is None or experiment.results_computed_at < since):
        if timezone.now() - since < dt.timedelta(seconds=60):
            context["refreshing_since"] = since.isoformat()
        else:
            context["refresh_late"] = True
    return TemplateResponse(request, "experiments/detail.html#results", context)
