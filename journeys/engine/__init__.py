"""The journey engine: rounds of batched claims (runner), bus subscribers (signals), entry
(enroll), audiences and schedules (audience), webhook calls (webhooks), counters."""

from .audience import audience_step, schedules_due
from .runner import run_pending, run_round

__all__ = ["audience_step", "run_pending", "run_round", "schedules_due"]
