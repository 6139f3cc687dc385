"""enqueue(): real RQ workers with Redis, background threads without it."""

from __future__ import annotations

import time

import pytest

from portal import kv
from worker import enqueue, job

CALLS: list[tuple] = []


@job
def record_call(value: str) -> str:
    kv.put(f"jobtest:{value}", "done", 60)
    return value


@job
def flaky(key: str) -> None:
    """Fails on its first run, succeeds after."""
    attempts = int(kv.get(f"flaky:{key}") or 0) + 1
    kv.put(f"flaky:{key}", str(attempts), 60)
    if attempts == 1:
        raise RuntimeError("transient failure")


def test_it_runs_a_job_through_a_real_rq_worker(app, rq_worker):
    rq_job = enqueue(record_call, "a", queue="default", title="record a")
    assert rq_job.description == "record a"
    assert rq_job.timeout == 60
    assert kv.get("jobtest:a") is None
    rq_worker()
    assert kv.get("jobtest:a") == "done"
    assert rq_job.get_status(refresh=True) == "finished"


def test_it_retries_a_failed_job_with_rq(app, rq_worker):
    rq_job = enqueue(flaky, "r", retry=(0,))
    rq_worker()
    rq_worker()
    assert kv.get("flaky:r") == "2"
    assert rq_job.get_status(refresh=True) == "finished"


def test_it_refuses_an_unknown_queue(app, needs_redis):
    with pytest.raises(ValueError, match="unknown queue"):
        enqueue(record_call, "x", queue="nope")


def test_without_redis_it_runs_in_a_background_thread_with_delay_and_retry(app, tmp_path):
    previous = app.config.get("JOBS_MODE")
    previous_redis = app.config.get("REDIS_URL")
    app.config["JOBS_MODE"] = "thread"
    app.config["REDIS_URL"] = None
    try:
        started = time.monotonic()
        enqueue(record_call, "t", delay=0.3)
        assert time.monotonic() - started < 0.2  # did not block the caller
        enqueue(flaky, "th", retry=(0.2,))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if kv.get("jobtest:t") == "done" and kv.get("flaky:th") == "2":
                break
            time.sleep(0.05)
        assert kv.get("jobtest:t") == "done"
        assert kv.get("flaky:th") == "2"
    finally:
        app.config["JOBS_MODE"] = previous
        app.config["REDIS_URL"] = previous_redis
