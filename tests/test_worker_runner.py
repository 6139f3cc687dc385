"""The worker entry points: every periodic job resolves and is registered."""

from __future__ import annotations

import os

import pytest

from portal import kv
from worker import job
from worker.runner import _resolve, build_cron
from worker.schedule import PERIODIC


@pytest.mark.parametrize("entry", PERIODIC, ids=lambda e: e["func"])
def test_every_periodic_job_is_an_importable_function(entry):
    func = _resolve(entry["func"])
    assert callable(func)
    assert entry["queue"] in ("default", "verify", "webhooks", "reports")
    assert bool(entry.get("interval")) != bool(entry.get("cron"))


def test_the_cron_scheduler_registers_every_periodic_job(app, needs_redis):
    scheduler = build_cron(app)
    registered = {job.func_name for job in scheduler.get_jobs()}
    assert registered == {entry["func"] for entry in PERIODIC}


def test_the_worker_command_refuses_to_run_without_redis(app, runner):
    previous = app.config["REDIS_URL"]
    app.config["REDIS_URL"] = None
    try:
        result = runner.invoke(args=["worker", "--burst"])
    finally:
        app.config["REDIS_URL"] = previous
    assert result.exit_code != 0
    assert "needs REDIS_URL" in str(result.exception) + result.output


@job
def record_pid(key: str) -> None:
    kv.put(f"pidtest:{key}", str(os.getpid()), 60)


def test_the_worker_runs_emails_in_process_and_forks_for_heavy_queues(app, needs_redis):
    """E-mails (queue `default`) skip the fork; reports, verification and webhooks keep it."""
    from portal.kv import redis_connection
    from worker import enqueue, set_worker_app
    from worker.runner import LatchkeyWorker, prepare_for_fork

    set_worker_app(app)
    prepare_for_fork(app)
    enqueue(record_pid, "light", queue="default")
    enqueue(record_pid, "heavy", queue="reports")
    worker = LatchkeyWorker(["default", "reports"], connection=redis_connection())
    worker.work(burst=True)

    assert kv.get("pidtest:light") == str(os.getpid())
    heavy = kv.get("pidtest:heavy")
    assert heavy is not None and heavy != str(os.getpid())
