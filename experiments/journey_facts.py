"""What the experiment pages need to know about the journeys their splits live in: the journey's
name, where to edit it, and how many contacts reach the split a day (for the expected duration).
journeys sits above this app, so it supplies these facts at start-up (`JourneysConfig.ready`
calls `register`); nothing here imports journeys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class Provider(Protocol):
    def names(self, *, workspace, journey_ids: set[int]) -> dict[int, str]: ...

    def entries(self, *, workspace, journey_id: int, node: str, since) -> int: ...

    def enrolments(self, *, workspace, journey_id: int, since) -> int: ...


@dataclass
class _Nothing:
    """Before journeys registers (a bare experiments test): no names, nobody entering."""

    def names(self, *, workspace, journey_ids):
        return {}

    def entries(self, *, workspace, journey_id, node, since):
        return 0

    def enrolments(self, *, workspace, journey_id, since):
        return 0


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
