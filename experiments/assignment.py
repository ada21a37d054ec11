"""Assignment: which exit each contact arriving at an experiment's split node takes, decided for a
whole engine round at once (`assign_batch`, a fixed number of queries whatever the number of
contacts), and the exposure it records (docs/experiments.md).

- Sticky: a contact's variant is a deterministic hash of the experiment's stable key (journey id
  and node id, the same across versions and restarts) and the contact id, against the weights;
  once recorded (an ExperimentAssignment row) it never changes.
- Exposure once: the row is inserted with `ON CONFLICT DO NOTHING RETURNING`, so only the rows
  that went in count, and the arm counters are added to with `F() + n` (one UPDATE per round):
  two engines assigning the same contact at the same time record it once.
- Comparable arms: a new contact is assigned only after the consent and quiet-hours decision on
  the arms' channel. Deferred (quiet hours, a frequency cap): the contact waits at the node until
  then, unexposed. Denied (no consent, suppressed, no address): the contact takes the control
  exit, unexposed, so the journey goes on as it would without the experiment and the statistics
  only count contacts every arm could have messaged.
- After a winner is declared new contacts take the winner's exit, after a stop (by hand or by a
  guardrail) the control's, unexposed; contacts already assigned keep their arm."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass

from django.db import connection
from django.db.models import Case, F, IntegerField, Value, When

from .models import Experiment, ExperimentArm, ExperimentAssignment


def bucket(journey_id: int, node: str, contact_id: int) -> float:
    """A point in [0, 1) from the experiment's stable key and the contact (SHA-256: uniform,
    and the same in every process and release; assignments made before the experiments app
    existed used exactly this, so they do not move)."""
    digest = hashlib.sha256(f"{journey_id}:{node}:{contact_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def choose(variants: list[dict], point: float) -> str:
    """The variant whose cumulative weight interval holds `point`."""
    total = sum(v["weight"] for v in variants)
    if total <= 0:  # never published (weights add up to 100); a broken row must not stop a round
        return variants[0]["exit"]
    edge = 0.0
    for v in variants:
        edge += v["weight"] / total
        if point < edge:
            return v["exit"]
    return variants[-1]["exit"]


@dataclass(frozen=True, slots=True)
class Choice:
    """What a contact does at the split: take `exit` (`exposed`: counted in the experiment), or,
    when `exit` is empty, wait until `defer_until` and ask again."""

    exit: str
    exposed: bool = False
    defer_until: dt.datetime | None = None
    reason: str = ""


class ExposureDeltas:
    """Arm counts gathered during a round and added at its end (`flush`) in one UPDATE per
    experiment, rows in primary-key order: the arm rows stay locked only for the end of the
    round, like the journey counters, and concurrent rounds never deadlock."""

    def __init__(self):
        self.deltas: dict[int, Counter] = defaultdict(Counter)

    def add(self, experiment_id: int, counts: dict[str, int]) -> None:
        self.deltas[experiment_id].update(counts)

    def flush(self) -> None:
        for experiment_id, counts in sorted(self.deltas.items()):
            counts = {k: n for k, n in counts.items() if n}
            if counts:
                ExperimentArm.objects.filter(experiment_id=experiment_id, exit__in=sorted(counts)).update(
                    exposures=F("exposures")
                    + Case(
                        *(When(exit=k, then=Value(n)) for k, n in sorted(counts.items())),
                        default=Value(0),
                        output_field=IntegerField(),
                    )
                )
        self.deltas.clear()


def assign_batch(
    experiment: Experiment,
    contacts: list,
    *,
    now: dt.datetime,
    record: bool = True,
    exposures: ExposureDeltas | None = None,
) -> dict[int, Choice]:
    """{contact id: Choice} for contacts (of the experiment's workspace) arriving at its node now.
    `record=False` (an editor test run) writes nothing and exposes no one. `exposures`: where the
    arm counts go (the engine's round adds them at its end); None adds them at once."""
    contacts = list({c.pk: c for c in contacts}.values())
    if not contacts:
        return {}
    ids = [c.pk for c in contacts]
    existing = dict(
        ExperimentAssignment.objects.filter(experiment=experiment, contact_id__in=ids).values_list(
            "contact_id", "variant"
        )
    )
    out = {cid: Choice(variant, reason="assigned before") for cid, variant in existing.items()}
    new = [c for c in contacts if c.pk not in existing]
    if not new:
        return out
    status = experiment.status
    if status == Experiment.Status.DECIDED:
        return out | {c.pk: Choice(experiment.winner, reason="winner declared") for c in new}
    if status == Experiment.Status.STOPPED:
        return out | {c.pk: Choice(experiment.control, reason="experiment stopped") for c in new}
    if status == Experiment.Status.DRAFT or not record:  # not live (an editor test run): preview only
        return out | {c.pk: Choice(_hashed(experiment, c.pk), reason="not recorded") for c in new}
    allowed = []
    verdicts = _verdicts(experiment, new, now)
    for contact in new:
        verdict = verdicts.get(contact.pk)
        if verdict is None or verdict.outcome == "allow":
            allowed.append(contact)
        elif verdict.outcome == "defer" and verdict.defer_until and verdict.defer_until > now:
            out[contact.pk] = Choice("", defer_until=verdict.defer_until, reason=verdict.reason)
        else:
            out[contact.pk] = Choice(experiment.control, reason=f"not exposed: {verdict.reason}"[:300])
    if not allowed:
        return out
    wanted = {c.pk: _hashed(experiment, c.pk) for c in allowed}
    inserted = _insert(experiment, wanted, now)
    if len(inserted) == len(wanted):
        stored = [(cid, variant, True) for cid, variant in wanted.items()]
    else:  # another engine recorded some of them first: theirs stands, and only ours count
        stored = [
            (cid, variant, cid in inserted)
            for cid, variant in ExperimentAssignment.objects.filter(
                experiment=experiment, contact_id__in=list(wanted)
            ).values_list("contact_id", "variant")
        ]
    counts: Counter = Counter()
    for contact_id, variant, ours in stored:
        if ours:
            counts[variant] += 1
            out[contact_id] = Choice(variant, exposed=True)
        else:
            out[contact_id] = Choice(variant, reason="assigned before")
    if exposures is None:
        exposures = ExposureDeltas()
        exposures.add(experiment.pk, counts)
        exposures.flush()
    else:
        exposures.add(experiment.pk, counts)
    return out


def _insert(experiment: Experiment, wanted: dict[int, str], now: dt.datetime) -> set[int]:
    """Record {contact id: variant} (`INSERT ... ON CONFLICT DO NOTHING RETURNING contact_id`):
    the contacts whose row went in. Plain values, no model instances (a round records up to a
    thousand: building instances cost more than the insert)."""
    table = connection.ops.quote_name(ExperimentAssignment._meta.db_table)
    columns = "workspace_id, experiment_id, contact_id, variant, exposed_at"
    at = connection.ops.adapt_datetimefield_value(now)
    items = sorted(wanted.items())
    inserted: set[int] = set()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"INSERT INTO {table} ({columns}) SELECT %s, %s, u.c, u.v, %s "
                "FROM unnest(%s::bigint[], %s::text[]) AS u(c, v) ON CONFLICT DO NOTHING RETURNING contact_id",
                [experiment.workspace_id, experiment.pk, at, [c for c, _ in items], [v for _, v in items]],
            )
            return {row[0] for row in cursor.fetchall()}
        for start in range(0, len(items), 1000):  # SQLite >= 3.32: up to 32,766 parameters
            chunk = items[start : start + 1000]
            params = [p for c, v in chunk for p in (experiment.workspace_id, experiment.pk, c, v, at)]
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES {', '.join(['(%s, %s, %s, %s, %s)'] * len(chunk))} "
                "ON CONFLICT DO NOTHING RETURNING contact_id",
                params,
            )
            inserted.update(row[0] for row in cursor.fetchall())
    return inserted


def _hashed(experiment: Experiment, contact_id: int) -> str:
    return choose(experiment.variants, bucket(experiment.journey_id, experiment.node, contact_id))


def _verdicts(experiment: Experiment, contacts: list, now: dt.datetime) -> dict:
    """{contact id: consent verdict} on the arms' channel and purpose, for all the new contacts
    at once (empty when the experiment names no channel: nothing to gate on)."""
    if not experiment.channel:
        return {}
    from django.core.exceptions import ValidationError

    from channels_app import consent_gate
    from channels_app.services.pipeline import active_channels, channel_resolve

    purpose = experiment.purpose or "transactional"
    workspace = contacts[0].workspace
    by_kind: dict[str, list] = defaultdict(list)
    verdicts = {}
    channels = active_channels(workspace)
    for contact in contacts:
        try:
            kind = channel_resolve(
                workspace=workspace, contact=contact, spec=experiment.channel, channels=channels
            ).kind
        except ValidationError as exc:
            verdicts[contact.pk] = consent_gate.Verdict("deny", "channel", "; ".join(exc.messages))
            continue
        by_kind[kind].append(contact)
    for kind, group in sorted(by_kind.items()):
        try:
            verdicts.update(consent_gate.check_many(group, kind, purpose, now))
        except ValidationError as exc:  # e.g. a purpose the workspace deleted: nobody is exposed
            reason = "; ".join(exc.messages)
            verdicts.update({c.pk: consent_gate.Verdict("deny", "purpose", reason) for c in group})
    return verdicts
