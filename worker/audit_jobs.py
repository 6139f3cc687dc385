"""Periodic work on the audit trail (scheduled in worker/schedule.py)."""

from __future__ import annotations

from portal.audit import checkpoints

from . import job
from .jobs import periodic


@job
@periodic
def checkpoint_audit_chains() -> str:
    """Hourly: each agency's chain length and head hash, signed and stored, so
    `latchkey audit verify` notices events deleted after it."""
    return f"{checkpoints.checkpoint_all()} checkpoints written"
