"""Published graphs, compiled once per process (a published version never changes)."""

from __future__ import annotations

from dataclasses import dataclass

from ..models import JourneyVersion
from ..nodes import REGISTRY

_cache: dict[int, Graph] = {}


@dataclass
class Graph:
    version_id: int
    start: str
    nodes: dict

    def node(self, node_id: str) -> dict | None:
        return self.nodes.get(node_id)

    def spec(self, node_id: str):
        node = self.nodes.get(node_id)
        return REGISTRY.get(node["type"]) if node else None

    def goals(self) -> list[tuple[str, dict]]:
        return [(nid, n.get("config") or {}) for nid, n in self.nodes.items() if n.get("type") == "goal"]


def graph_for(version_id: int, graph: dict | None = None) -> Graph:
    cached = _cache.get(version_id)
    if cached is None:
        if graph is None:
            graph = JourneyVersion.objects.values_list("graph", flat=True).get(pk=version_id)
        cached = Graph(version_id, graph.get("start", ""), graph.get("nodes") or {})
        if len(_cache) > 5000:
            _cache.clear()
        _cache[version_id] = cached
    return cached


def graphs_for(version_ids) -> dict[int, Graph]:
    version_ids = set(version_ids)
    missing = [v for v in set(version_ids) if v not in _cache]
    if missing:
        for pk, graph in JourneyVersion.objects.filter(
            pk__in=missing, published_at__isnull=False
        ).values_list("pk", "graph"):
            graph_for(pk, graph)
    return {v: _cache[v] for v in set(version_ids) if v in _cache}
