"""Periodic jobs, run by RQ's CronScheduler (`latchkey worker --cron` or `latchkey cron`).

Each entry: the job function's import path, its queue, a cron expression (UTC)
or an interval in seconds, and optionally a timeout. Areas add their periodic
work here; the scheduler, not a home-made loop, runs it. Every job here is
idempotent, so a run repeated after a crash or a failover sends nothing twice.
"""

from __future__ import annotations

PERIODIC: list[dict] = [
    # Grants stuck in "verifying" (a worker died mid-job, a lost message) are retried.
    {"func": "worker.jobs.sweep_stuck_grants", "queue": "verify", "interval": 300},
    # Each request is expired at its time by a delayed job (worker.jobs.plan_expiry);
    # this sweep is the safety net for one lost with Redis or deferred by a verification.
    {"func": "worker.jobs.expire_due_requests", "queue": "default", "interval": 300},
    # Clients who have not finished: reminded 3 and 7 days after the link was e-mailed.
    {"func": "worker.jobs.send_reminders", "queue": "default", "cron": "15 * * * *"},
    # Agencies: a link their client has not finished expires within 3 days.
    {"func": "worker.jobs.send_expiry_warnings", "queue": "default", "cron": "45 * * * *"},
    # Nightly: every verified grant is checked again; one the agency lost is flagged removed.
    {"func": "worker.jobs.reverify_active_grants", "queue": "verify", "cron": "30 2 * * *"},
    # First day of each quarter: every active access, with how to remove it.
    {
        "func": "worker.jobs.quarterly_access_review",
        "queue": "default",
        "cron": "0 9 1 1,4,7,10 *",
        "timeout": 600,
    },
    # Hourly: each agency's audit chain length and head hash, signed and stored
    # (a checkpoint `latchkey audit verify` checks: deleted events are caught).
    {"func": "worker.audit_jobs.checkpoint_audit_chains", "queue": "default", "cron": "5 * * * *"},
    # Nightly: expired idempotency keys and old finished webhook deliveries are deleted.
    {"func": "worker.jobs.prune_expired_records", "queue": "default", "cron": "10 4 * * *"},
    # Nightly: personal data of requests finished longer ago than the agency's
    # retention period is erased (see portal.services.privacy); batched, resumable.
    {
        "func": "worker.jobs.apply_retention",
        "queue": "default",
        "cron": "40 3 * * *",
        "timeout": 1800,
    },
]
