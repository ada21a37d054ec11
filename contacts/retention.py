"""What ages out of contacts (cpaas/retention.py): events, by when they happened."""

from cpaas.retention import register

from .models import Event

register("events", Event, date="occurred_at")
