"""Writes of the journeys app. Callers import from here."""

from .enrollments import (
    CSV_MAX_BYTES,
    contacts_from_csv,
    enrollment_cancel,
    entry_refusal,
    journey_start,
    journey_start_contact,
)
from .journeys import (
    JourneyInvalid,
    draft_for,
    draft_save,
    graph_purpose,
    journey_archive,
    journey_create,
    journey_duplicate,
    journey_from_template,
    journey_pause,
    journey_publish,
    journey_resume,
    journey_update,
)
from .promises import promise_clean, promise_record

__all__ = [
    "CSV_MAX_BYTES",
    "contacts_from_csv",
    "JourneyInvalid",
    "draft_for",
    "draft_save",
    "graph_purpose",
    "enrollment_cancel",
    "journey_archive",
    "journey_create",
    "journey_duplicate",
    "journey_from_template",
    "journey_pause",
    "journey_publish",
    "journey_resume",
    "journey_start",
    "journey_start_contact",
    "entry_refusal",
    "journey_update",
    "promise_clean",
    "promise_record",
]
