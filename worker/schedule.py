"""Periodic jobs, run by RQ's CronScheduler (`latchkey worker --cron` or `latchkey cron`).

Each entry: (job function import path, queue, cron expression or interval seconds).
Areas add their periodic work here; the scheduler, not a home-made loop, runs it.
"""

from __future__ import annotations

PERIODIC: list[dict] = [
    # Grants stuck in "verifying" (a worker died mid-job, a lost message) are retried.
    {"func": "worker.jobs.sweep_stuck_grants", "queue": "verify", "interval": 300},
    # Links past their date answer 410 at once; this records it for the agency.
    {"func": "worker.jobs.expire_due_requests", "queue": "default", "interval": 3600},
]
