"""What operators see of a running Latchkey: logs, request ids, client addresses.

- Logs: one JSON object per line (`LATCHKEY_LOG_FORMAT=json`, the production
  default) or a readable line (`text`, the development default), with the
  request id, the agency and the job id when known. Link tokens and OAuth
  codes are scrubbed from every line, whoever wrote it.
- Request ids: taken from `X-Request-ID` when the request came through a
  trusted reverse proxy and the value is short and plain, generated otherwise;
  returned in the `X-Request-ID` response header and carried into the RQ jobs
  the request enqueues (job meta), so a job's log lines carry the same id.
- Request log: one line per request (method, path without query string and
  with secrets redacted, status, duration_ms, endpoint), plus the request
  metrics of portal/metrics.py. This is the access log: gunicorn's own is off
  (gunicorn.conf.py) so each request is logged once.
- Trusted proxies (`LATCHKEY_TRUSTED_PROXIES`): only a request whose peer is one
  of them may set X-Forwarded-For, X-Forwarded-Proto and X-Request-ID.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from flask import Flask, g, has_request_context, request
from werkzeug.wsgi import ClosingIterator

REQUEST_ID_HEADER = "X-Request-ID"
# A request id from a proxy: short and plain (nginx's $request_id, a UUID, ...).
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")

request_id_var: ContextVar[str | None] = ContextVar("latchkey_request_id", default=None)
agency_id_var: ContextVar[int | None] = ContextVar("latchkey_agency_id", default=None)
job_id_var: ContextVar[str | None] = ContextVar("latchkey_job_id", default=None)

# Keys this module keeps in the WSGI environ (the app's teardown fills the last two).
ENV_REQUEST_ID = "latchkey.request_id"
ENV_TRUSTED_PROXY = "latchkey.trusted_proxy"
ENV_ENDPOINT = "latchkey.endpoint"
ENV_AGENCY_ID = "latchkey.agency_id"

# Libraries that narrate their work at INFO: only their warnings are kept.
QUIET_LOGGERS = ("weasyprint.progress", "alembic.runtime.plugins", "fontTools")

# Load balancer probes and scrapes: logged at DEBUG when they succeed.
QUIET_ENDPOINTS = frozenset({"main.healthz", "ops.readyz", "ops.metrics"})

log = logging.getLogger("latchkey.request")
job_log = logging.getLogger("latchkey.jobs")


# -------------------------------------------------------------------- secrets

# URL path segments that are secrets: client links, password resets, invitations,
# e-mail confirmations.
_SECRET_PATH = re.compile(r"(/(?:r|auth/reset|auth/invite|auth/verify)/)[A-Za-z0-9_~.%-]{12,}")
# Query parameters that are secrets (OAuth codes and state, tokens).
_SECRET_QUERY = re.compile(
    r"([?&](?:code|code_verifier|state|token|access_token|refresh_token|fb_exchange_token"
    r"|client_secret|password)=)[^&\s\"']+",
    re.IGNORECASE,
)
REDACTED = "[redacted]"
# View arguments that are secrets, wherever their route is.
SECRET_VIEW_ARGS = frozenset({"token"})


def scrub(text: str) -> str:
    """`text` with link tokens, reset tokens and OAuth codes replaced by [redacted]."""
    if not text:
        return text
    text = _SECRET_PATH.sub(lambda m: m.group(1) + REDACTED, text)
    text = _SECRET_QUERY.sub(lambda m: m.group(1) + REDACTED, text)
    if has_request_context():
        for name, value in (request.view_args or {}).items():
            if name in SECRET_VIEW_ARGS and isinstance(value, str) and len(value) >= 8:
                text = text.replace(value, REDACTED)
    return text


def loggable_path(path: str) -> str:
    """The path as it may be logged: secrets redacted (the query string is never logged)."""
    return scrub(path.split("?", 1)[0])


# -------------------------------------------------------------------- logging


class ContextFilter(logging.Filter):
    """Adds request_id, agency_id and job_id to every record (None when unknown)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get()
        if getattr(record, "agency_id", None) is None:
            record.agency_id = _agency_id()
        if getattr(record, "job_id", None) is None:
            record.job_id = job_id_var.get()
        return True


def _agency_id() -> int | None:
    agency_id = agency_id_var.get()
    if agency_id is None and has_request_context():
        agency_id = _request_agency_id()
    return agency_id


def _request_agency_id() -> int | None:
    """The signed-in agency (or API key's), else the agency a link page belongs to."""
    agency_id = g.get("agency_id")
    return agency_id if agency_id is not None else g.get("log_agency_id")


def note_agency(agency_id: int) -> None:
    """Name the agency a request concerns in its log lines, without signing anyone
    in: `g.agency_id` means the signed-in agency and scopes its queries, so a
    client's link page sets only this."""
    g.log_agency_id = agency_id


# Extra fields a record may carry (logger.info(..., extra={...})), in this order.
RECORD_FIELDS = (
    "method",
    "path",
    "status",
    "duration_ms",
    "endpoint",
    "remote_addr",
    "job",
    "queue",
    "outcome",
)


def _utc(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, agency_id,
    job_id when in a job, the request fields of request lines, and exc for tracebacks."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": _utc(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
            "request_id": getattr(record, "request_id", None),
            "agency_id": getattr(record, "agency_id", None),
        }
        job_id = getattr(record, "job_id", None)
        if job_id is not None:
            data["job_id"] = job_id
        for name in RECORD_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                data[name] = value
        if record.exc_info:
            data["exc"] = scrub(self.formatException(record.exc_info))
        if record.stack_info:
            data["stack"] = scrub(self.formatStack(record.stack_info))
        return json.dumps(data, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """For development: `time LEVEL logger [request id] message`, scrubbed too."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = None
        saved = record.request_id
        record.request_id = saved or "-"
        try:
            return scrub(super().format(record))
        finally:
            record.request_id = saved


def make_formatter(fmt: str) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else TextFormatter()


def configure_logging(fmt: str, level: str, stream=None) -> logging.Handler:
    """Send every log record (the app's, RQ's, gunicorn's) to one handler on the root logger.

    Idempotent: a handler this module made (here or through gunicorn.conf.py's
    logging config) is reused and given the format asked for.
    """
    root = logging.getLogger()
    handler = next(
        (h for h in root.handlers if isinstance(h.formatter, (JsonFormatter, TextFormatter))),
        None,
    )
    if handler is None:
        handler = logging.StreamHandler(stream or sys.stderr)
        root.addHandler(handler)
    handler.setFormatter(make_formatter(fmt))
    if not any(isinstance(f, ContextFilter) for f in handler.filters):
        handler.addFilter(ContextFilter())
    root.setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    logging.captureWarnings(True)  # Python warnings become log lines too
    return handler


# ------------------------------------------------------------------- requests


def valid_request_id(value: str | None) -> str | None:
    if value and _REQUEST_ID.fullmatch(value):
        return value
    return None


def new_request_id() -> str:
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    return request_id_var.get()


class TrustedProxies:
    """WSGI middleware: behind a trusted reverse proxy, take the client's address
    and scheme from X-Forwarded-For / X-Forwarded-Proto.

    Walking X-Forwarded-For from the right, trusted hops are skipped; the first
    address that is not a trusted proxy is the client. A request whose peer is
    not trusted keeps its own address and scheme, whatever headers it sends.
    """

    def __init__(self, app, networks: Callable[[], tuple[str, ...]] | tuple[str, ...]):
        self.app = app
        # Read at each request (cheaply), so a changed setting applies at once.
        self._source = networks if callable(networks) else (lambda: networks)
        self._parsed: tuple[tuple[str, ...], list] = ((), [])

    @property
    def networks(self) -> list:
        current = tuple(self._source())
        if current != self._parsed[0]:
            self._parsed = (current, [ipaddress.ip_network(n) for n in current])
        return self._parsed[1]

    def trusted(self, address: str | None) -> bool:
        networks = self.networks
        if not address or not networks:
            return False
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip.version == n.version and ip in n for n in networks)

    def __call__(self, environ, start_response):
        peer = environ.get("REMOTE_ADDR")
        if self.trusted(peer):
            environ[ENV_TRUSTED_PROXY] = True
            environ["latchkey.proxy.peer"] = peer
            hops = [h.strip() for h in environ.get("HTTP_X_FORWARDED_FOR", "").split(",")]
            client = peer
            for hop in reversed([h for h in hops if h]):
                try:
                    ipaddress.ip_address(hop.split("%", 1)[0])
                except ValueError:
                    break  # garbage: keep the last address a trusted hop vouched for
                client = hop
                if not self.trusted(hop):
                    break
            environ["REMOTE_ADDR"] = client
            proto = environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[-1].strip().lower()
            if proto in ("http", "https"):
                environ["wsgi.url_scheme"] = proto
        return self.app(environ, start_response)


class RequestObserver:
    """WSGI middleware: request id in, X-Request-ID out, one log line and the
    request metrics once the response has been sent."""

    def __init__(self, app, observe):
        self.app = app
        self.observe = observe  # (environ, status, seconds) -> None

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        request_id = None
        if environ.get(ENV_TRUSTED_PROXY):
            request_id = valid_request_id(environ.get("HTTP_X_REQUEST_ID"))
        request_id = request_id or new_request_id()
        environ[ENV_REQUEST_ID] = request_id
        seen: dict[str, int] = {}

        def start(status: str, headers, exc_info=None):
            seen["status"] = int(status.split(" ", 1)[0])
            headers = [(k, v) for k, v in headers if k.lower() != "x-request-id"]
            headers.append((REQUEST_ID_HEADER, request_id))
            return start_response(status, headers, exc_info)

        def finish() -> None:
            try:
                self.observe(environ, seen.get("status", 500), time.perf_counter() - started)
            except Exception:  # the answer is sent: a logging or metrics fault must not fail it
                log.exception("could not log or count the request")

        token = request_id_var.set(request_id)
        try:
            body = self.app(environ, start)
        except BaseException:
            finish()
            raise
        finally:
            # The app has answered: later lines of this thread are not this request's.
            request_id_var.reset(token)
        # Logged and measured once the body is sent (the server closes the body).
        return ClosingIterator(body, finish)


def _observe(environ: Mapping[str, Any], status: int, seconds: float) -> None:
    from . import metrics

    endpoint = environ.get(ENV_ENDPOINT) or "unmatched"
    method = environ.get("REQUEST_METHOD", "GET")
    metrics.observe_request(endpoint, method, status, seconds)
    duration_ms = round(seconds * 1000, 1)
    path = loggable_path(environ.get("PATH_INFO", "") or "/")
    level = logging.DEBUG if endpoint in QUIET_ENDPOINTS and status < 400 else logging.INFO
    if status >= 500:
        level = logging.ERROR
    log.log(
        level,
        "%s %s %s %sms",
        method,
        path,
        status,
        duration_ms,
        extra={
            "request_id": environ.get(ENV_REQUEST_ID),
            "agency_id": environ.get(ENV_AGENCY_ID),
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": duration_ms,
            "endpoint": endpoint,
            "remote_addr": environ.get("REMOTE_ADDR"),
        },
    )


# ----------------------------------------------------------------------- jobs


def job_meta() -> dict[str, Any]:
    """What an enqueued job carries from the code that queued it (RQ job meta)."""
    meta: dict[str, Any] = {}
    request_id = request_id_var.get()
    if request_id:
        meta["request_id"] = request_id
    agency_id = _agency_id()
    if agency_id is not None:
        meta["agency_id"] = agency_id
    return meta


def _current_rq_job():
    if "rq.job" not in sys.modules:
        return None
    from rq import get_current_job

    return get_current_job()


@contextmanager
def job_context(name: str, meta: Mapping[str, Any] | None = None) -> Iterator[None]:
    """Run a job with the request id and agency it was queued with, and log its end.

    Inside an RQ work horse the meta comes from the current job; the in-process
    runner passes it. Called neither way (a job run inline by a request or a
    test), the surrounding context is kept and nothing extra is logged.
    """
    job = _current_rq_job()
    job_id = None
    if job is not None:
        if job_id_var.get() == job.id:  # a job function called by the job itself
            yield
            return
        meta = job.meta or {}
        job_id = job.id
    if meta is None:
        yield
        return
    tokens = (
        request_id_var.set(meta.get("request_id")),
        agency_id_var.set(meta.get("agency_id")),
        job_id_var.set(job_id),
    )
    started = time.perf_counter()
    outcome = "failed"
    try:
        yield
        outcome = "ok"
    finally:
        duration_ms = round((time.perf_counter() - started) * 1000, 1)
        job_log.info(
            "job %s %s %sms",
            name,
            outcome,
            duration_ms,
            extra={
                "request_id": meta.get("request_id"),
                "agency_id": meta.get("agency_id"),
                "job_id": job_id,
                "job": name,
                "queue": job.origin if job is not None else "in-process",
                "outcome": outcome,
                "duration_ms": duration_ms,
            },
        )
        for var, token in zip((request_id_var, agency_id_var, job_id_var), tokens, strict=True):
            var.reset(token)


# ------------------------------------------------------------------------ app


def init_app(app: Flask) -> None:
    """Logging, trusted proxies, request ids and the request log for this app."""
    if app.config["LATCHKEY_ENV"] != "test":
        from flask.logging import default_handler

        configure_logging(app.config["LOG_FORMAT"], app.config["LOG_LEVEL"])
        app.logger.removeHandler(default_handler)

    @app.before_request
    def _forget_the_previous_link_agency():
        # `g` outlives a request when an app context was already pushed (CLI, tests).
        g.pop("log_agency_id", None)

    @app.teardown_request
    def _remember_for_the_request_log(_error=None):
        rule = request.url_rule
        request.environ[ENV_ENDPOINT] = rule.endpoint if rule is not None else None
        request.environ[ENV_AGENCY_ID] = _request_agency_id()

    app.wsgi_app = TrustedProxies(  # type: ignore[method-assign]
        RequestObserver(app.wsgi_app, _observe), lambda: app.config["TRUSTED_PROXIES"]
    )
