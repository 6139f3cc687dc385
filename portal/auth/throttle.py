"""Rate limits of the auth area.

Two layers, both in the Flask-Limiter storage (Redis when REDIS_URL is set):

- per IP, on the POST routes that check a secret (declared on the views);
- per account: at most AUTH_ACCOUNT_FAILURE_LIMIT failed sign-ins for one
  normalised e-mail in a moving window, whatever the IP. Only failures count,
  so nobody is locked out for good: once the oldest failure leaves the
  window, the real person can sign in again.

Accounts are keyed by a hash of the e-mail, so the store holds no addresses.
"""

from __future__ import annotations

import math
import time

from flask import current_app
from limits import RateLimitItem, parse

from ..crypto import token_hash
from ..extensions import limiter
from ..services.agencies import normalise_email

DEFAULT_IP_LIMIT = "30 per 15 minutes"
DEFAULT_ACCOUNT_FAILURE_LIMIT = "10 per 15 minutes"
DEFAULT_SIGNUP_LIMIT = "20 per hour"
# Reset e-mails sent to one address, so the form cannot be used to flood an inbox.
DEFAULT_RESET_EMAIL_LIMIT = "3 per hour"

_NAMESPACE = "latchkey-auth"


def ip_limit() -> str:
    return current_app.config.get("AUTH_IP_RATE_LIMIT", DEFAULT_IP_LIMIT)


# Opening a reset or invitation link (GET): the token is in the URL, so
# guessing is limited per address like the client links, generously enough
# for a person who reopens the e-mail a few times.
DEFAULT_TOKEN_PAGE_LIMIT = "60 per 15 minutes"  # noqa: S105 (a rate, not a secret)


def token_page_limit() -> str:
    return current_app.config.get("AUTH_TOKEN_PAGE_RATE_LIMIT", DEFAULT_TOKEN_PAGE_LIMIT)


def signup_limit() -> str:
    return current_app.config.get("AUTH_SIGNUP_RATE_LIMIT", DEFAULT_SIGNUP_LIMIT)


def _item(setting: str, default: str) -> RateLimitItem:
    parsed = parse(current_app.config.get(setting, default))
    return type(parsed)(parsed.amount, parsed.multiples, namespace=_NAMESPACE)


def _account_key(email: str) -> str:
    return token_hash(normalise_email(email))[:40]


def _enabled() -> bool:
    return bool(limiter.enabled)


def _storage_call(action, fallback):
    """Run a storage operation; with RATELIMIT_SWALLOW_ERRORS, log a failure and go on.

    This follows Flask-Limiter's own setting, so the per-IP and per-account
    limits fail the same way when the store is unreachable.
    """
    try:
        return action()
    except Exception:
        if not current_app.config.get("RATELIMIT_SWALLOW_ERRORS"):
            raise
        current_app.logger.exception("the rate-limit store failed; the account limit is skipped")
        return fallback


def account_retry_after(email: str) -> int | None:
    """Seconds until `email` may try again, or None when it may try now."""
    if not _enabled():
        return None
    item = _item("AUTH_ACCOUNT_FAILURE_LIMIT", DEFAULT_ACCOUNT_FAILURE_LIMIT)
    key = _account_key(email)

    def check() -> int | None:
        if limiter.limiter.test(item, "failures", key):
            return None
        stats = limiter.limiter.get_window_stats(item, "failures", key)
        return max(1, math.ceil(stats.reset_time - time.time()))

    return _storage_call(check, None)


def record_failure(email: str) -> None:
    if _enabled():
        item = _item("AUTH_ACCOUNT_FAILURE_LIMIT", DEFAULT_ACCOUNT_FAILURE_LIMIT)
        _storage_call(lambda: limiter.limiter.hit(item, "failures", _account_key(email)), None)


def clear_failures(email: str) -> None:
    """Forget failures once the person has proved who they are."""
    if _enabled():
        item = _item("AUTH_ACCOUNT_FAILURE_LIMIT", DEFAULT_ACCOUNT_FAILURE_LIMIT)
        _storage_call(lambda: limiter.limiter.clear(item, "failures", _account_key(email)), None)


def may_send_reset_email(email: str) -> bool:
    """Count one reset e-mail to `email`; False once the hourly allowance is spent."""
    if not _enabled():
        return True
    item = _item("AUTH_RESET_EMAIL_LIMIT", DEFAULT_RESET_EMAIL_LIMIT)
    return _storage_call(lambda: limiter.limiter.hit(item, "reset-mail", _account_key(email)), True)


def may_send_signup_email(email: str) -> bool:
    """Count one "you already have an account" e-mail to `email` (sign-up with a
    known address); False once the hourly allowance is spent."""
    if not _enabled():
        return True
    item = _item("AUTH_RESET_EMAIL_LIMIT", DEFAULT_RESET_EMAIL_LIMIT)
    return _storage_call(
        lambda: limiter.limiter.hit(item, "signup-mail", _account_key(email)), True
    )
