"""Background jobs: queue names, the `enqueue` wrapper and the app context jobs run in.

With REDIS_URL set, jobs go to RQ and run in `latchkey worker` processes.
Without it (the one-command demo), they run in a small in-process thread pool
so the request that enqueued them does not wait; delays and retries are kept.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from flask import Flask, current_app, has_app_context

log = logging.getLogger("latchkey.jobs")

QUEUES = ("default", "verify", "webhooks", "reports")
DEFAULT_RETRY = (10, 60, 300)

_worker_app: Flask | None = None


def job(func: Callable) -> Callable:
    """Make a module-level job function run inside an app context and leave a
    clean database session behind, wherever it runs (RQ work horse or thread)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from portal.observability import job_context

        # The request id and agency the job was queued with go into its log lines.
        with job_context(func.__name__):
            if has_app_context():
                return _run(func, args, kwargs)
            with _app_for_worker().app_context():
                return _run(func, args, kwargs)

    return wrapper


def _run(func, args, kwargs):
    from portal.extensions import db

    try:
        result = func(*args, **kwargs)
        db.session.commit()
        return result
    except BaseException:
        db.session.rollback()
        raise
    finally:
        if not current_app.config.get("TESTING"):
            db.session.remove()


def _app_for_worker() -> Flask:
    global _worker_app
    if _worker_app is None:
        from portal import create_app

        _worker_app = create_app()
    return _worker_app


def set_worker_app(app: Flask) -> None:
    """Use this app for jobs run outside a request (the worker process)."""
    global _worker_app
    _worker_app = app


def get_queue(name: str = "default"):
    from rq import Queue

    from portal.kv import redis_connection

    if name not in QUEUES:
        raise ValueError(f"unknown queue {name!r}")
    return Queue(name, connection=redis_connection())


def enqueue(
    func: Callable,
    *args,
    queue: str = "default",
    timeout: int = 60,
    retry: Sequence[int] = DEFAULT_RETRY,
    title: str | None = None,
    delay: float | None = None,
    job_id: str | None = None,
):
    """Queue `func(*args)`; args must be ids and plain values, never objects."""
    from portal.observability import job_meta

    app = current_app._get_current_object()
    mode = app.config.get("JOBS_MODE") or ("rq" if app.config.get("REDIS_URL") else "thread")
    title = title or func.__name__
    meta = job_meta()  # the request id (and agency) of the code queueing the job
    if mode == "rq":
        from rq import Retry

        q = get_queue(queue)
        options = {
            "job_timeout": timeout,
            "retry": Retry(max=len(retry), interval=list(retry)) if retry else None,
            "description": title,
            "job_id": job_id,
            "failure_ttl": 7 * 24 * 3600,
            "meta": meta or None,
        }
        if delay:
            return q.enqueue_in(timedelta(seconds=delay), func, *args, **options)
        return q.enqueue(func, *args, **options)
    if mode == "inline":  # tests that want the effect now, in this thread
        if delay:
            # Running it now would be running it at the wrong time (an expiry
            # woken early only plans itself again): inline mode has no "later".
            log.debug("inline jobs: %s planned in %.0f s is not run", title, delay)
            return None
        return func(*args)
    _thread_runner(app).submit(func, args, list(retry), title, delay or 0, meta)
    return None


class _ThreadRunner:
    """Runs jobs on two background threads, honouring delays and retries."""

    def __init__(self, app: Flask):
        self.app = app
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="latchkey-job")

    def submit(
        self, func, args, retries: list[int], title: str, delay: float, meta: dict | None = None
    ) -> None:
        if delay > 0:
            timer = threading.Timer(delay, self._start, (func, args, retries, title, meta))
            timer.daemon = True
            timer.start()
        else:
            self._start(func, args, retries, title, meta)

    def _start(self, func, args, retries, title, meta=None):
        self.pool.submit(self._execute, func, args, retries, title, meta)

    def _execute(self, func, args, retries, title, meta=None):
        from portal.observability import job_context

        with self.app.app_context():
            try:
                with job_context(title, meta or {}):  # logged with the request id it came from
                    try:
                        func(*args)
                    except Exception:
                        if retries:
                            log.warning(
                                "job %s failed; retrying in %ss", title, retries[0], exc_info=True
                            )
                        else:
                            log.exception("job %s failed for good", title)
                        raise
            except Exception:
                if retries:
                    self.submit(func, args, retries[1:], title, retries[0], meta)


def _thread_runner(app: Flask) -> _ThreadRunner:
    runner = app.extensions.get("latchkey_jobs")
    if runner is None:
        runner = app.extensions["latchkey_jobs"] = _ThreadRunner(app)
    return runner
