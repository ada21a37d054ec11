"""What the experiment pages need to know about the journeys their splits live in (the journey's
name, how many contacts reach the split or the journey a day, for the expected duration), and the
one change they ask of one (a draft split's variants, which the node's config owns).
journeys sits above this app, so it supplies these facts at start-up (`JourneysConfig.ready`
calls `register`); nothing here imports journeys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from django.core.exceptions import ValidationError


class Provider(Protocol):
    def names(self, *, workspace, journey_ids: set[int]) -> dict[int, str]: ...

    def entries(self, *, workspace, journey_id: int, node: str, since) -> int: ...

    def enrolments(self, *, workspace, journey_id: int, since) -> int: ...

    def variants_save(
        self, *, workspace, journey_id: int, node: str, variants: list[dict], actor
    ) -> None: ...


@dataclass
class _Nothing:
    """Before journeys registers (a bare experiments test): no names, nobody entering."""

    def names(self, *, workspace, journey_ids):
        return {}

    def entries(self, *, workspace, journey_id, node, since):
        return 0

    def enrolments(self, *, workspace, journey_id, since):
        return 0

    def variants_save(self, *, workspace, journey_id, node, variants, actor):
        raise ValidationError({"variants": ["The journeys app is not loaded."]})


_provider: Provider = _Nothing()


def register(provider: Provider) -> None:
    global _provider
    _provider = provider


def journey_names(*, workspace, journey_ids) -> dict[int, str]:
    return _provider.names(workspace=workspace, journey_ids=set(journey_ids))


def entries_since(*, workspace, journey_id: int, node: str, since) -> int:
    """Contacts (test runs excluded) who reached the node since `since`."""
    return _provider.entries(workspace=workspace, journey_id=journey_id, node=node, since=since)


def enrolments_since(*, workspace, journey_id: int, since) -> int:
    """Contacts (test runs excluded) who entered the journey since `since`: the rate to plan with
    while the split is not live yet."""
    return _provider.enrolments(workspace=workspace, journey_id=journey_id, since=since)


def split_variants_save(*, workspace, journey_id: int, node: str, variants: list[dict], actor) -> None:
    """Write a draft split's variants into the journey's draft (the node's config owns them; the
    save keeps the experiment in step). Raises ValidationError."""
    _provider.variants_save(
        workspace=workspace, journey_id=journey_id, node=node, variants=variants, actor=actor
    )
