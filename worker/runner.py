"""Entry points for worker processes: `latchkey worker` and `latchkey cron`."""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import os
import signal
import threading
import time
import uuid

from flask import Flask

from . import QUEUES, set_worker_app
from .schedule import PERIODIC


def _fork_safe(app: Flask) -> None:
    """RQ forks a work horse per job: it must not reuse the parent's DB connections."""
    from portal.extensions import db

    with app.app_context():
        engine = db.engine
    os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))


def _resolve(path: str):
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def build_cron(app: Flask):
    from rq.cron import CronScheduler

    from portal.kv import redis_connection

    with app.app_context():
        scheduler = CronScheduler(connection=redis_connection(), name="latchkey-cron")
    for entry in PERIODIC:
        scheduler.register(
            _resolve(entry["func"]),
            queue_name=entry["queue"],
            interval=entry.get("interval"),
            cron=entry.get("cron"),
            job_timeout=entry.get("timeout", 300),
        )
    return scheduler


def run_cron(app: Flask) -> None:
    """Run RQ's cron scheduler in this process once it holds the cron lock."""
    if not app.config.get("REDIS_URL"):
        raise SystemExit("latchkey cron needs REDIS_URL")
    _cron_leader(app)


LEADER_KEY = "latchkey:cron:leader"
LEADER_TTL = 60


def _cron_leader(app: Flask) -> None:
    """In a child of `latchkey worker`: become the one cron scheduler, or wait.

    Any number of workers may run; a Redis lock with a TTL makes exactly one
    of them run the periodic jobs, and another takes over within a minute if
    that one dies.
    """
    from portal.kv import redis_connection

    log = logging.getLogger("latchkey.cron")
    me = uuid.uuid4().hex
    with app.app_context():
        conn = redis_connection()
        while not conn.set(LEADER_KEY, me, nx=True, ex=LEADER_TTL):
            time.sleep(LEADER_TTL / 3)
        log.info("this worker runs the periodic jobs")

        def keep_lock():
            while True:
                time.sleep(LEADER_TTL / 3)
                if conn.get(LEADER_KEY) != me.encode():
                    log.warning("lost the cron lock; stopping the scheduler")
                    os.kill(os.getpid(), signal.SIGTERM)
                    return
                conn.expire(LEADER_KEY, LEADER_TTL)

        threading.Thread(target=keep_lock, daemon=True).start()
        try:
            build_cron(app).start()
        finally:
            if conn.get(LEADER_KEY) == me.encode():
                conn.delete(LEADER_KEY)


def run_worker(
    app: Flask, queues: list[str] | None, burst: bool = False, cron: bool = False
) -> None:
    from rq import Worker

    from portal.kv import redis_connection

    if not app.config.get("REDIS_URL"):
        raise SystemExit(
            "latchkey worker needs REDIS_URL; without it, jobs already run inside the web process."
        )
    set_worker_app(app)
    _fork_safe(app)
    names = queues or list(QUEUES)
    unknown = set(names) - set(QUEUES)
    if unknown:
        raise SystemExit(f"unknown queue(s): {', '.join(sorted(unknown))}")
    child = None
    if cron and not burst:
        child = multiprocessing.get_context("fork").Process(
            target=_cron_leader, args=(app,), name="latchkey-cron", daemon=True
        )
        child.start()
    try:
        with app.app_context():
            worker = Worker(names, connection=redis_connection())
        worker.work(burst=burst, with_scheduler=True)
    finally:
        if child is not None and child.is_alive():
            child.terminate()
            child.join(5)
