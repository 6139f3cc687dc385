"""Prometheus metrics, served at /metrics (portal/ops.py).

Two kinds:

- Request metrics (`latchkey_http_requests_total`, `latchkey_http_request_duration_seconds`)
  are counted by each web process as it answers. Under gunicorn every worker
  process counts its own: with `PROMETHEUS_MULTIPROC_DIR` set (gunicorn.conf.py
  sets it), prometheus-client keeps each process's values in a file of that
  directory and a scrape, answered by any one worker, adds them all up
  (`MultiProcessCollector`); gunicorn.conf.py empties the directory at start
  and marks a dead worker's files. Without it (the demo, the tests) the values
  live in this process.
- State metrics (RQ queues and workers, grants by status) are read from Redis
  and PostgreSQL at scrape time, so they are the same whichever process or
  machine answers: no process keeps a copy that could drift.

A source that does not answer during a scrape is reported by
`latchkey_metrics_source_up{source=...} 0` instead of failing the scrape.
"""

from __future__ import annotations

import logging
import os

from flask import Flask
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.multiprocess import MultiProcessCollector

log = logging.getLogger("latchkey.metrics")

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4  # what generate_latest writes

# This process's own metrics (not prometheus-client's global registry: tests and
# tools that build several apps in one process keep one set of counters).
REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "latchkey_http_requests",
    "HTTP requests answered, by endpoint, method and status code.",
    ["endpoint", "method", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "latchkey_http_request_duration_seconds",
    "Time from receiving a request to the end of its response, by endpoint.",
    ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def observe_request(endpoint: str, method: str, status: int, seconds: float) -> None:
    method = method if method in METHODS else "other"
    REQUESTS.labels(endpoint=endpoint, method=method, status=str(status)).inc()
    LATENCY.labels(endpoint=endpoint).observe(seconds)


def multiprocess_mode() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class _ThisProcess:
    """The request metrics of this process (when not in multiprocess mode)."""

    def collect(self):
        return REGISTRY.collect()


class StateCollector:
    """Queues, workers and grants, read when Prometheus scrapes."""

    def __init__(self, app: Flask):
        self.app = app

    def collect(self):
        up = GaugeMetricFamily(
            "latchkey_metrics_source_up",
            "1 if the source answered during this scrape, 0 if not.",
            labels=["source"],
        )
        grants = self._grants()
        up.add_metric(["database"], 0 if grants is None else 1)
        if grants is not None:
            yield grants
        if self.app.config.get("REDIS_URL"):
            queues = self._queues()
            up.add_metric(["redis"], 0 if queues is None else 1)
            if queues is not None:
                yield from queues
        yield up

    def _grants(self):
        from sqlalchemy import func, select

        from .extensions import db
        from .models import Grant
        from .models.requests import GRANT_STATUSES

        try:
            rows = db.session.execute(
                select(Grant.status, func.count()).group_by(Grant.status)
            ).all()
            db.session.rollback()  # read only: end the transaction now
        except Exception:
            db.session.rollback()
            log.warning("metrics: the database did not answer", exc_info=True)
            return None
        counts = dict.fromkeys(GRANT_STATUSES, 0)
        counts.update((status, count) for status, count in rows)
        family = GaugeMetricFamily(
            "latchkey_grants", "Grants by status, across all agencies.", labels=["status"]
        )
        for status, count in sorted(counts.items()):
            family.add_metric([status], count)
        return family

    def _queues(self):
        from rq import Queue, Worker
        from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

        from worker import QUEUES

        from .kv import redis_connection

        try:
            conn = redis_connection()
            pipe = conn.pipeline(transaction=False)
            for name in QUEUES:
                queue = Queue(name, connection=conn)
                pipe.llen(queue.key)
                pipe.zcard(StartedJobRegistry(queue=queue).key)
                pipe.zcard(ScheduledJobRegistry(queue=queue).key)
                pipe.zcard(FailedJobRegistry(queue=queue).key)
            pipe.scard(Worker.redis_workers_keys)
            answers = pipe.execute()
        except Exception:
            log.warning("metrics: Redis did not answer", exc_info=True)
            return None
        waiting = GaugeMetricFamily(
            "latchkey_rq_queue_jobs", "Jobs waiting in each RQ queue.", labels=["queue"]
        )
        started = GaugeMetricFamily(
            "latchkey_rq_started_jobs", "Jobs running now, by queue.", labels=["queue"]
        )
        scheduled = GaugeMetricFamily(
            "latchkey_rq_scheduled_jobs",
            "Jobs scheduled for later (delays and retries), by queue.",
            labels=["queue"],
        )
        failed = GaugeMetricFamily(
            "latchkey_rq_failed_jobs",
            "Jobs that failed for good and wait in the failed registry, by queue.",
            labels=["queue"],
        )
        for index, name in enumerate(QUEUES):
            values = answers[index * 4 : index * 4 + 4]
            for family, value in zip((waiting, started, scheduled, failed), values, strict=True):
                family.add_metric([name], value)
        workers = GaugeMetricFamily("latchkey_rq_workers", "RQ workers registered in Redis.")
        workers.add_metric([], answers[-1])
        return [waiting, started, scheduled, failed, workers]


def exposition(app: Flask) -> bytes:
    """The metrics in Prometheus' text format."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_mode():
        MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(StateCollector(app))
    return generate_latest(registry)
