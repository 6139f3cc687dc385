"""One attempt to deliver a webhook, and the retry schedule around it."""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import urllib3
from flask import current_app

from .ssrf import Target, UnsafeURL, resolve

log = logging.getLogger("latchkey.webhooks")

# Seconds between attempts: 8 attempts over about 28 hours.
RETRY_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 36000)
JITTER = 0.1  # each wait is moved by up to ±10 %
JOB_TIMEOUT = 15  # the RQ job; the HTTP call stays well within it
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 8.0
MAX_RESPONSE_BYTES = 16 * 1024
EXCERPT_CHARS = 1000
MAX_RETRY_AFTER = 24 * 3600
USER_AGENT = "Latchkey-Webhooks/1.0"


def retry_schedule() -> tuple[int, ...]:
    configured = current_app.config.get("WEBHOOK_RETRY_SCHEDULE")
    return tuple(configured) if configured is not None else RETRY_SCHEDULE


def jittered(seconds: float, rng: random.Random | None = None) -> int:
    if seconds <= 0:
        return 0
    rng = rng or random.Random()
    return max(1, round(seconds * (1 + rng.uniform(-JITTER, JITTER))))


def jittered_schedule(schedule: tuple[int, ...] | None = None) -> list[int]:
    return [jittered(s) for s in (retry_schedule() if schedule is None else schedule)]


def parse_retry_after(value: str | None, now: datetime | None = None) -> int | None:
    """Seconds asked for by a Retry-After header (seconds or an HTTP date), capped."""
    if not value:
        return None
    value = value.strip()
    seconds: float | None = None
    if value.isdigit():
        seconds = int(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return int(min(max(seconds, 0), MAX_RETRY_AFTER))


@dataclass
class Outcome:
    status_code: int | None
    latency_ms: int
    excerpt: str | None = None
    error: str | None = None
    retry_after: int | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _pool(target: Target):
    timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT)
    if target.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            target.ip,
            target.port,
            timeout=timeout,
            retries=False,
            maxsize=1,
            cert_reqs="CERT_REQUIRED",
            server_hostname=target.host,
            assert_hostname=target.host,
        )
    return urllib3.HTTPConnectionPool(
        target.ip, target.port, timeout=timeout, retries=False, maxsize=1
    )


def post(url: str, body: str, headers: dict[str, str]) -> Outcome:
    """POST `body` to `url`: checked address only, no redirects, bounded read."""
    started = time.perf_counter()

    def elapsed() -> int:
        return int((time.perf_counter() - started) * 1000)

    try:
        target = resolve(url)
    except UnsafeURL as exc:
        return Outcome(None, elapsed(), error=str(exc))
    pool = _pool(target)
    try:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body.encode("utf-8"),
            headers={
                **headers,
                "Host": target.host_header,
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
            },
            redirect=False,
            retries=False,
            assert_same_host=False,
            preload_content=False,
        )
        try:
            raw = response.read(MAX_RESPONSE_BYTES, decode_content=True)
        finally:
            response.release_conn()
        excerpt = raw.decode("utf-8", "replace")[:EXCERPT_CHARS] if raw else None
        outcome = Outcome(response.status, elapsed(), excerpt)
        if 300 <= response.status < 400:
            outcome.error = (
                f"The receiver answered {response.status} (a redirect); redirects are not "
                "followed. Use the final address."
            )
        elif not outcome.ok:
            outcome.error = f"The receiver answered {response.status}."
            outcome.retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return outcome
    except urllib3.exceptions.TimeoutError:
        return Outcome(None, elapsed(), error="The receiver did not answer in time.")
    except urllib3.exceptions.SSLError as exc:
        return Outcome(None, elapsed(), error=f"TLS failed: {exc}"[:300])
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        return Outcome(None, elapsed(), error=f"Could not connect: {exc}"[:300])
    finally:
        pool.close()


def next_delay(attempts_done: int, schedule: tuple[int, ...], retry_after: int | None) -> int:
    """Seconds before the next attempt: the schedule's step, or longer if asked."""
    index = max(attempts_done - 1, 0)
    planned = schedule[index] if index < len(schedule) else schedule[-1] if schedule else 0
    return max(planned, retry_after or 0)


def utc_now() -> datetime:
    return datetime.now(UTC)


def in_seconds(seconds: int) -> datetime:
    return utc_now() + timedelta(seconds=seconds)


def without_link(text: str | None, body: str) -> str | None:
    """`text` (the receiver's answer, kept in the log) without the client's link
    token, should the receiver echo the body back: no live link is kept in clear."""
    if not text:
        return text
    try:
        url = (json.loads(body).get("data") or {}).get("url") or ""
    except (ValueError, AttributeError):
        return text
    token = url.rpartition("/r/")[2] if "/r/" in url else ""
    return text.replace(token, "[redacted]") if len(token) >= 20 else text
