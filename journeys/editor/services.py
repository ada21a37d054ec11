"""The canvas editor's small adapters over the journeys services: the draft with a content
etag (so two editors never overwrite each other silently), restore of a version into the
draft, and a summary of what changed between two graphs."""

from __future__ import annotations

import hashlib
import json

from django.db import transaction

from cpaas.locks import lock_refresh
from cpaas.tenancy import Actor

from ..models import Journey, JourneyVersion
from ..services import draft_for, draft_save


class DraftConflict(Exception):
    """The draft changed since the editor loaded it: `draft` is what is stored now."""

    def __init__(self, draft: JourneyVersion):
        self.draft = draft
        super().__init__("The draft was changed by someone else.")


def graph_etag(graph: dict) -> str:
    raw = json.dumps(graph, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def draft_etag(draft: JourneyVersion) -> str:
    return graph_etag(draft.graph)


@transaction.atomic
def draft_save_checked(
    *, journey: Journey, actor: Actor, graph: dict, base_etag: str
) -> tuple[JourneyVersion, list[dict]]:
    """Save the draft only if it is still the one the editor started from (`base_etag`);
    else DraftConflict. The journey is locked first (as publish and draft_save lock it), then the
    draft row, so two saves cannot both pass the check and a save never lands in a draft that a
    publish is turning into a version."""
    lock_refresh(journey)
    draft = draft_for(journey)
    draft = JourneyVersion.objects.select_for_update().get(pk=draft.pk)
    current = draft_etag(draft)
    if base_etag != current and graph_etag(graph) != current:
        raise DraftConflict(draft)
    return draft_save(journey=journey, actor=actor, graph=graph)


@transaction.atomic
def draft_restore(
    *, journey: Journey, actor: Actor, version: JourneyVersion
) -> tuple[JourneyVersion, list[dict]]:
    """Copy a version's graph into the draft (the version itself never changes)."""
    return draft_save(journey=journey, actor=actor, graph=json.loads(json.dumps(version.graph)))


def _comparable(node: dict) -> dict:
    return {k: v for k, v in node.items() if k != "position"}


def graph_changes(old: dict | None, new: dict | None) -> dict:
    """Nodes added, removed and changed (position alone is not a change) from old to new."""
    a = (old or {}).get("nodes") or {}
    b = (new or {}).get("nodes") or {}
    return {
        "added": sorted(set(b) - set(a)),
        "removed": sorted(set(a) - set(b)),
        "changed": sorted(n for n in set(a) & set(b) if _comparable(a[n]) != _comparable(b[n])),
    }
