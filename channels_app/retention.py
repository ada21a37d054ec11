"""What ages out of the messaging core (cpaas/retention.py): messages, by when they were created.
Their status history and inbox reply links go with them; a fallback or reply that pointed at one
keeps its own row (the link is set to null)."""

from cpaas.retention import register

from .models import Message

register("messages", Message, date="created_at")
