"""Worker tasks (django-q2): the automatic decisions, on the schedule the migration
`0003_decisions_schedule` creates (every 15 minutes). Arguments are ids and JSON only."""

from __future__ import annotations

from .decisions import experiments_decide


def experiments_decide_task() -> dict:
    """Guardrail stops and automatic winners for every running experiment (safe to run twice:
    a decided or stopped experiment is no longer running)."""
    return {str(k): v for k, v in experiments_decide().items()}
