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
from rq import SimpleWorker, Worker

from . import QUEUES, set_worker_app
from .schedule import PERIODIC


def _fork_safe(app: Flask) -> None:
    """RQ forks a work horse per job: it must not reuse the parent's DB connections."""
    from portal.extensions import db

    with app.app_context():
        engine = db.engine
    os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))


# Templates a job renders: compiled once in the parent, inherited by every
# work horse through fork instead of being compiled again for each job.
_JOB_TEMPLATES = ("emails/", "reports/")


def warm_up(app: Flask) -> None:
    """Do once, before RQ forks a work horse per job, what each job would redo.

    A forked work horse starts from the parent's memory and throws its own
    away when the job ends. Whatever the parent has not loaded yet (compiled
    templates, Babel's locale data, lazily imported modules such as
    WeasyPrint's) is loaded again by every job: about 150 ms of a 180 ms
    e-mail job. After loading, `gc.freeze()` keeps the collector from
    touching (and so copying) the inherited objects in each child.
    """
    # Imported for their side effect: loaded once, here, rather than by each job.
    import email.policy  # noqa: F401
    import gc

    from babel import Locale
    from flask_babel import force_locale, get_translations

    import portal.mail
    import portal.notifications.emails
    import portal.notifications.log
    import portal.reports

    with app.app_context():
        env = app.jinja_env
        for name in env.list_templates(filter_func=lambda n: n.startswith(_JOB_TEMPLATES)):
            env.get_template(name)
        portal.reports.prepare_renderer()  # the PDF stylesheet and fonts, compiled
        for code in app.config["LANGUAGES"]:
            locale = Locale.parse(code)
            # Touch the tables the e-mails and reports format dates and numbers with.
            locale.date_formats, locale.time_formats, locale.datetime_formats  # noqa: B018
            locale.number_symbols, locale.decimal_formats  # noqa: B018
            with force_locale(code):
                get_translations()
    gc.collect()
    gc.freeze()


def prepare_for_fork(app: Flask) -> None:
    """Make the worker process ready to fork a work horse per job, quickly and safely."""
    _fork_safe(app)
    warm_up(app)


class StopsPromptly:
    """An RQ worker whose command listener stops within a second of teardown.

    RQ listens for commands (stop a job, shut down) on a Redis pub/sub
    thread that it starts with `sleep_time=60` and stops at teardown. Since
    redis-py 8, `PubSubWorkerThread.stop()` waits for that thread to end,
    and a thread that has already seen its unsubscribe waits out the rest of
    its 60 s in `get_message` first: every burst, and every `latchkey
    worker` shutdown, then took up to a minute. Polling once a second costs
    nothing and bounds that wait, on redis-py 7 and 8 alike.
    """

    pubsub_poll_seconds = 1.0

    def subscribe(self) -> None:
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(
            sleep_time=self.pubsub_poll_seconds,
            daemon=True,
            exception_handler=self._pubsub_exception_handler,
        )


class LatchkeySimpleWorker(StopsPromptly, SimpleWorker):
    """RQ's SimpleWorker (jobs in the worker process), stopping promptly."""


class LatchkeyWorker(StopsPromptly, Worker):
    """RQ's forking Worker that runs the light `default` queue in-process.

    A work horse per job isolates what may crash, hang in C code or grow
    memory: PDF rendering (`reports`), platform calls (`verify`) and
    calls to agencies' servers (`webhooks`). E-mails and housekeeping
    (`default`) do none of that, and forking a worker that has the whole
    app loaded costs them more than the job itself (about 90 ms of a
    120 ms e-mail). They run in the worker process, as RQ's SimpleWorker
    does, with the same job timeout (SIGALRM) and the heartbeat of a
    SimpleWorker; a worker killed mid-job leaves the job to RQ's
    abandoned-job handling, like a killed work horse.
    """

    inline_queues = frozenset({"default"})
    _inline = False

    def execute_job(self, job, queue):
        if queue.name not in self.inline_queues:
            return super().execute_job(job, queue)
        self._inline = True
        try:
            return SimpleWorker.execute_job(self, job, queue)
        finally:
            self._inline = False

    def get_heartbeat_ttl(self, job, working_time: float = 0.0) -> int:
        if self._inline:
            return SimpleWorker.get_heartbeat_ttl(self, job, working_time)
        return super().get_heartbeat_ttl(job, working_time)


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
    from portal.kv import redis_connection

    if not app.config.get("REDIS_URL"):
        raise SystemExit(
            "latchkey worker needs REDIS_URL; without it, jobs already run inside the web process."
        )
    set_worker_app(app)
    prepare_for_fork(app)
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
            worker = LatchkeyWorker(names, connection=redis_connection())
        worker.work(burst=burst, with_scheduler=True)
    finally:
        if child is not None and child.is_alive():
            child.terminate()
            child.join(5)
