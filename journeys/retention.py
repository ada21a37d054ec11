"""What ages out of journeys (cpaas/retention.py): steps, by when they were taken. Enrolments and
the canvas counters (JourneyCounter) stay, so journey and experiment numbers do not change."""

from cpaas.retention import register

from .models import Step

register("steps", Step, date="at", workspace="journey__workspace")
