"""Entry points for worker processes: `latchkey worker` and `latchkey cron`."""

from __future__ import annotations

import importlib
import os
import threading

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
    if not app.config.get("REDIS_URL"):
        raise SystemExit("latchkey cron needs REDIS_URL")
    build_cron(app).start()


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
    if cron:
        threading.Thread(target=run_cron, args=(app,), daemon=True, name="latchkey-cron").start()
    worker = Worker(names, connection=redis_connection())
    worker.work(burst=burst, with_scheduler=True)
