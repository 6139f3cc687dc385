"""Gunicorn settings for Latchkey's web processes.

    gunicorn -c gunicorn.conf.py wsgi:app

(gunicorn also reads ./gunicorn.conf.py by itself when started from the
repository root). Settings come from the environment, parsed as strictly as
the app's own (portal/config.py); deploy/ has the systemd units that set them.

| variable | meaning | default |
|---|---|---|
| `GUNICORN_BIND` | address(es) to listen on, comma-separated | `127.0.0.1:8000` |
| `WEB_CONCURRENCY` | worker processes | 2 x CPUs + 1, between 2 and 8 |
| `GUNICORN_THREADS` | threads per worker process | 4 |
| `GUNICORN_TIMEOUT` | seconds a worker may stay silent before it is restarted | 30 |
| `GUNICORN_GRACEFUL_TIMEOUT` | seconds to finish requests on stop or reload | 30 |
| `PROMETHEUS_MULTIPROC_DIR` | the workers' metrics files (emptied at start) | a temporary folder |
| `GUNICORN_CONTROL_SOCKET` | path of gunicorn's control socket (`gunicornc`) | off |

Proxies: `LATCHKEY_TRUSTED_PROXIES` is given to gunicorn's `forwarded_allow_ips`,
so gunicorn and the app trust X-Forwarded-* from the same peers and no other.
Logs: every line on stderr goes through the app's formatter (JSON in
production, LATCHKEY_LOG_FORMAT); the access log is the app's own request log
(one line per request, with its request id, agency and duration), so gunicorn's
access log is off rather than writing each request twice.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from portal.config import ConfigError, envint, log_format, log_level, trusted_proxies
from portal.observability import QUIET_LOGGERS

_env = os.environ

try:
    _cpus = os.cpu_count() or 1
    bind = [b.strip() for b in _env.get("GUNICORN_BIND", "127.0.0.1:8000").split(",") if b.strip()]
    workers = envint(_env, "WEB_CONCURRENCY", max(2, min(2 * _cpus + 1, 8)), minimum=1)
    threads = envint(_env, "GUNICORN_THREADS", 4, minimum=1)
    timeout = envint(_env, "GUNICORN_TIMEOUT", 30, minimum=5)
    graceful_timeout = envint(_env, "GUNICORN_GRACEFUL_TIMEOUT", 30, minimum=1)
    forwarded_allow_ips = ",".join(trusted_proxies(_env))
    _log_format = log_format(_env)
    _log_level = log_level(_env)
except ConfigError as exc:
    raise SystemExit(f"gunicorn.conf.py: {exc}") from None

# Threads serve requests that wait on PostgreSQL, Redis or a platform's API.
worker_class = "gthread"
# The reverse proxy keeps connections open to gunicorn; a little longer than nginx's.
keepalive = 5
# Load the app once in the master and fork: workers share its memory and a
# broken configuration stops the start before any worker runs. Safe because
# create_app opens no connection; post_fork below drops any pool inherited anyway.
preload_app = True
proc_name = "latchkey-web"
# Heartbeat files in memory, not on a disk that may stall.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108
# gunicorn's control socket defaults to one path per user: several gunicorns on
# one machine would share it. Off unless a path is given.
if _env.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = _env["GUNICORN_CONTROL_SOCKET"]
else:
    control_socket_disable = True

# ------------------------------------------------------------------- logging

accesslog = None
errorlog = "-"
loglevel = _log_level.lower()
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"level": _log_level, "handlers": ["latchkey"]},
    "loggers": {
        "gunicorn.error": {"level": _log_level, "handlers": [], "propagate": True},
        # The app writes the access log (portal/observability.py).
        "gunicorn.access": {"level": "INFO", "handlers": ["null"], "propagate": False},
        # Libraries that narrate their work at INFO (as in portal/observability.py).
        **{name: {"level": "WARNING"} for name in QUIET_LOGGERS},
    },
    "handlers": {
        "latchkey": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
            "formatter": "latchkey",
            "filters": ["context"],
        },
        "null": {"class": "logging.NullHandler"},
    },
    "formatters": {
        "latchkey": {
            "()": "portal.observability."
            + ("JsonFormatter" if _log_format == "json" else "TextFormatter")
        }
    },
    "filters": {"context": {"()": "portal.observability.ContextFilter"}},
}

# ------------------------------------------------------------------- metrics

# Every worker counts its requests in files of this folder; a scrape adds them
# up (portal/metrics.py). prometheus-client reads the variable when first
# imported, which happens after this file runs.
_TEMPORARY = "LATCHKEY_GUNICORN_MADE_METRICS_DIR"  # this file made it: removed on exit
if not _env.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="latchkey-metrics-")
    os.environ[_TEMPORARY] = "1"


def on_starting(server) -> None:
    """Start the metrics from zero (files left by a previous run are removed), and
    read the migration this code expects now, so /readyz compares the database
    with the code these processes run, not with files a later release put on disk."""
    folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()

    from portal.ops import migration_heads

    app = server.app.wsgi()
    if "migrate" not in getattr(app, "extensions", {}):
        return  # another WSGI app under these settings (bench/minimal_wsgi.py)
    with app.app_context():
        migration_heads()


def post_fork(server, worker) -> None:
    """A worker must not share the master's database connections."""
    from portal.extensions import db

    app = server.app.wsgi()
    if "sqlalchemy" not in getattr(app, "extensions", {}):
        return  # another WSGI app under these settings (bench/minimal_wsgi.py)
    with app.app_context():
        db.engine.dispose(close=False)


def child_exit(server, worker) -> None:
    """Forget a dead worker's live gauges (its counters still count)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:
    if os.environ.get(_TEMPORARY):
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
