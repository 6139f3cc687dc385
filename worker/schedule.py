"""Periodic jobs, run by RQ's CronScheduler (`latchkey worker --cron` or `latchkey cron`).

Each entry: (job function import path, queue, cron expression or interval seconds).
Areas add their periodic work here; the scheduler, not a home-made loop, runs it.
"""

from __future__ import annotations

PERIODIC: list[dict] = [
    # Grants stuck in "verifying" (a worker died mid-job, a lost message) are retried.
    {"func": "worker.jobs.sweep_stuck_grants", "queue": "verify", "interval": 300},
]
