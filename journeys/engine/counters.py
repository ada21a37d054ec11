"""Counters for the canvas, kept incrementally: deltas gathered in memory during a round and
added in one upsert (`INSERT ... ON CONFLICT DO UPDATE SET value = value + excluded.value`)
at the end of the transaction, rows in key order so concurrent rounds never deadlock. Each flush
tells the browsers watching a journey touched (`journey.counts` on the workspace's `journeys`
topic, committed with the counters) so the canvas refetches its counts instead of polling."""

from __future__ import annotations

from collections import defaultdict

from django.db import connection

from cpaas.realtime import publish, workspace_group

from ..models import Journey, JourneyCounter

# journey id -> workspace id; a journey never changes workspace, so this per-process map never
# goes stale (bounded: cleared when it grows large)
_workspace_of: dict[int, int] = {}


def _workspaces(journey_ids: set[int]) -> dict[int, int]:
    missing = [j for j in journey_ids if j not in _workspace_of]
    if missing:
        if len(_workspace_of) > 50_000:
            _workspace_of.clear()
        _workspace_of.update(Journey.objects.filter(pk__in=missing).values_list("pk", "workspace_id"))
    return {j: _workspace_of[j] for j in journey_ids if j in _workspace_of}


def counts_changed(journey_ids: set[int]) -> None:
    """One realtime message per journey: its counters changed (sent if the transaction commits)."""
    for journey_id, workspace_id in sorted(_workspaces(journey_ids).items()):
        publish(workspace_group(workspace_id, "journeys"), {"type": "journey.counts", "journey": journey_id})


class CounterDeltas:
    def __init__(self):
        self.deltas: dict[tuple[int, str, str], int] = defaultdict(int)

    def add(self, journey_id: int, node: str, key: str, n: int = 1) -> None:
        self.deltas[(journey_id, node, key)] += n

    def flush(self) -> None:
        rows = sorted((k, v) for k, v in self.deltas.items() if v)
        self.deltas.clear()
        if not rows:
            return
        table = JourneyCounter._meta.db_table
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            values = ", ".join(["(%s, %s, %s, %s)"] * len(chunk))
            params = [p for (jid, node, key), n in chunk for p in (jid, node, key, n)]
            with connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {table} (journey_id, node, key, value) VALUES {values} "
                    f"ON CONFLICT (journey_id, node, key) DO UPDATE SET value = {table}.value + excluded.value",
                    params,
                )
        counts_changed({jid for (jid, _node, _key), _n in rows})


def counters_for(journey_id: int) -> dict[str, dict[str, int]]:
    """{node: {key: value}}; node '' holds the journey's totals."""
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for node, key, value in JourneyCounter.objects.filter(journey_id=journey_id).values_list(
        "node", "key", "value"
    ):
        out[node][key] = value
    return dict(out)
