"""Tasks for the worker process tests (imported by a real qcluster started in the repo root)."""


def mark(name: str) -> None:
    from cpaas.models import RealtimeEvent

    RealtimeEvent.objects.create(group=name, payload={"done": True})
