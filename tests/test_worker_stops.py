"""Workers stop when told to, and say what hung when they do not.

A worker that never stops hides as a browser test timing out three layers
away (a verification that never runs). These tests name the hang instead:
RQ's burst worker on a thread, and the `latchkey worker` process on SIGTERM,
must each stop within STOP_SECONDS.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

import pytest

STOP_SECONDS = 20
ROOT = Path(__file__).resolve().parent.parent


def _stack_of(thread: threading.Thread) -> str:
    frame = sys._current_frames().get(thread.ident)
    return "".join(traceback.format_stack(frame)) if frame else "(no stack)"


def test_a_burst_worker_stops_once_its_queues_are_empty(app, needs_redis):
    from rq import Queue

    from portal.kv import redis_connection
    from tests.browser.helpers import ThreadWorker
    from worker import set_worker_app

    set_worker_app(app)
    queue = Queue("default", connection=redis_connection())
    job = queue.enqueue(len, [1, 2, 3])
    worker = ThreadWorker(["default"], connection=redis_connection())
    thread = threading.Thread(target=worker.work, kwargs={"burst": True}, daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(STOP_SECONDS)
    if thread.is_alive():
        pytest.fail(
            f"RQ's burst worker did not stop within {STOP_SECONDS} s of emptying its queue. "
            f"It hangs here (the pub/sub listener of RQ's teardown, if redis-py changed):\n"
            f"{_stack_of(thread)}",
            pytrace=False,
        )
    assert job.get_status(refresh=True) == "finished"
    assert job.return_value() == 3
    # Well under the limit: the command listener polls once a second.
    assert time.monotonic() - started < 5


def test_the_browser_tests_background_worker_stops(app, needs_redis):
    from tests.browser.helpers import BackgroundWorker

    started = time.monotonic()
    with BackgroundWorker(app, poll=0.05) as running:
        deadline = time.monotonic() + STOP_SECONDS
        while running.jobs_run == 0 and running.bursts < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert running.bursts >= 2, "the background worker did not finish two bursts"
    assert time.monotonic() - started < STOP_SECONDS


def test_latchkey_worker_stops_on_sigterm(app, needs_redis, tmp_path):
    from rq import Worker

    from portal.kv import redis_connection

    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("LATCHKEY_") and k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")
    }
    env.update(
        {
            "LATCHKEY_ENV": "development",
            "LATCHKEY_INSTANCE_PATH": str(tmp_path),
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "REDIS_URL": app.config["REDIS_URL"],
            "PYTHONUNBUFFERED": "1",
        }
    )
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "portal.cli", "worker", "--no-cron"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        # Ready once idle: RQ registers a worker before it installs its signal handlers,
        # and a SIGTERM in between ends the process with no clean-up at all.
        deadline = time.monotonic() + 60
        while not any(w.get_state() == "idle" for w in Worker.all(connection=redis_connection())):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"latchkey worker did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.1)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"latchkey worker (pid {process.pid}) did not stop within {STOP_SECONDS} s of "
                f"SIGTERM. Its log:\n{log_path.read_text()[-3000:]}",
                pytrace=False,
            )
        assert time.monotonic() - started < 5, log_path.read_text()[-3000:]
        assert not Worker.all(connection=redis_connection()), "the worker left its registration"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
