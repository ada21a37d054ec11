"""Background tasks of the contacts app (django-q2). Arguments are ids; each task is safe to run
twice."""

from . import imports


def contact_import_run(import_id: int) -> str:
    """Check and write one queued CSV import (a second run finds it no longer queued)."""
    return imports.import_run(import_id=import_id)
