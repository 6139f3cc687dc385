"""Rate limits of the API, applied once in `authenticate` (portal/api/__init__.py).

What is counted, and against whom:

- a proved key: API_RATE_LIMIT per key, by its id. A key is counted only once
  its secret matched, so nobody can spend another agency's budget by sending
  its (public) prefix with a made-up secret;
- failed authentications (no key, a malformed or unknown key, a wrong
  secret, a revoked key): API_AUTH_FAILURE_LIMIT per client address. Once an
  address has used it up, its calls get 429 before any key is looked at, so
  guessing keys or prefixes from one address stops there, whatever prefix
  each guess carries;
- calls that need no key (the OpenAPI document): API_RATE_LIMIT per address.

The counters live in the Flask-Limiter storage (Redis when REDIS_URL is set).
"""

from __future__ import annotations

import math
import time

from flask import current_app, request
from limits import RateLimitItem, parse

from ..extensions import limiter

DEFAULT_RATE_LIMIT = "600 per minute"
DEFAULT_AUTH_FAILURE_LIMIT = "30 per minute"
_NAMESPACE = "latchkey-api"


def _item(setting: str, default: str) -> RateLimitItem:
    parsed = parse(current_app.config.get(setting) or default)
    return type(parsed)(parsed.amount, parsed.multiples, namespace=_NAMESPACE)


def _address() -> str:
    return request.remote_addr or "unknown"


def _storage(action, fallback):
    """Run a storage call; with RATELIMIT_SWALLOW_ERRORS a failing store lets calls through."""
    if not limiter.enabled:
        return fallback
    try:
        return action()
    except Exception:
        if not current_app.config.get("RATELIMIT_SWALLOW_ERRORS"):
            raise
        current_app.logger.exception("the rate-limit store failed; the API limit is skipped")
        return fallback


def _wait(item: RateLimitItem, *identifiers: str) -> int:
    stats = limiter.limiter.get_window_stats(item, *identifiers)
    return max(1, math.ceil(stats.reset_time - time.time()))


def _hit(setting: str, default: str, *identifiers: str) -> int | None:
    """Count one call; the seconds to wait when the limit is already spent, else None."""
    item = _item(setting, default)

    def hit() -> int | None:
        if limiter.limiter.hit(item, *identifiers):
            return None
        return _wait(item, *identifiers)

    return _storage(hit, None)


def failures_spent() -> int | None:
    """Seconds until this address may try a key again, or None when it may now."""
    item = _item("API_AUTH_FAILURE_LIMIT", DEFAULT_AUTH_FAILURE_LIMIT)
    address = _address()

    def check() -> int | None:
        if limiter.limiter.test(item, "auth-failures", address):
            return None
        return _wait(item, "auth-failures", address)

    return _storage(check, None)


def record_failure() -> None:
    _hit("API_AUTH_FAILURE_LIMIT", DEFAULT_AUTH_FAILURE_LIMIT, "auth-failures", _address())


def hit_key(key_id: int) -> int | None:
    """Count one call of a proved key; seconds to wait when its budget is spent."""
    return _hit("API_RATE_LIMIT", DEFAULT_RATE_LIMIT, "key", str(key_id))


def hit_address() -> int | None:
    """Count one call that needs no key, per client address."""
    return _hit("API_RATE_LIMIT", DEFAULT_RATE_LIMIT, "address", _address())
