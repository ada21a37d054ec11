"""Background tasks of the consent registry (django-q2). Arguments are ids; each task is safe to
run twice."""

from .services import imports


def consent_import_run(import_id: int) -> str:
    """Check and write one queued consent CSV import (a second run finds it no longer queued)."""
    return imports.consent_import_run(import_id=import_id)
