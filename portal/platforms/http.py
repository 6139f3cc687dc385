"""One way for every connector to call a platform over HTTP.

`call()` sends the request on a shared `requests.Session` (connection reuse),
never follows redirects (an API that redirects is misconfigured or hostile,
and a redirect could carry the bearer token elsewhere), and turns every
failure into a `PlatformError` written for people: what happened, what to do,
whether trying again can help. What the platform itself said is kept in the
error's `detail` for support.

Tokens are never logged: the log line names the method, the host and path
(no query string, no headers, no body), the status and the time taken.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from flask_babel import gettext as _

from .base import PlatformError

log = logging.getLogger(__name__)

USER_AGENT = "Latchkey/0.1 (+https://github.com/latchkey)"
DEFAULT_TIMEOUT = 10

_session: requests.Session | None = None
_session_lock = threading.Lock()


def session() -> requests.Session:
    """The shared session, created on first use (not at import)."""
    global _session
    if _session is None:
        with _session_lock:
            if _session is None:
                new = requests.Session()
                new.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
                # urllib3 logs full request lines (query strings included) at DEBUG;
                # some platforms put secrets there, so it never logs below INFO.
                logging.getLogger("urllib3.connectionpool").setLevel(logging.INFO)
                _session = new
    return _session


class PlatformHTTPError(PlatformError):
    """A `PlatformError` that came from an HTTP answer, with the platform's own words."""

    def __init__(
        self,
        message: str,
        fix: str,
        *,
        platform_code: Any = None,
        platform_message: str | None = None,
        body: Any = None,
        **kwargs: Any,
    ):
        super().__init__(message, fix, **kwargs)
        self.platform_code = platform_code
        self.platform_message = platform_message
        self.body = body


def call(
    method: str,
    url: str,
    token: str | Mapping[str, Any] | None = None,
    json: Any = None,
    data: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    auth: tuple[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    *,
    platform: str = "the platform",
    headers: Mapping[str, str] | None = None,
) -> Any:
    """Call `url` and return the decoded JSON body ({} when the body is empty).

    `token` is an access token, or an OAuth token dict with `access_token`;
    it is sent as `Authorization: Bearer`. `auth` is HTTP Basic (client id and
    secret at a token endpoint). Raises `PlatformError` on any failure.
    """
    request_headers = dict(headers or {})
    access_token = _access_token(token)
    if access_token:
        request_headers["Authorization"] = f"Bearer {access_token}"
    where = _safe_location(url)
    started = time.monotonic()
    try:
        response = session().request(
            method.upper(),
            url,
            json=json,
            data=data,
            params=params,
            auth=auth,
            headers=request_headers,
            timeout=timeout,
            allow_redirects=False,
        )
    except requests.Timeout:
        log.warning("%s %s timed out after %.1fs", method.upper(), where, timeout)
        raise PlatformError(
            _("%(platform)s took too long to answer.", platform=platform),
            _("This is usually temporary. Try again in a minute."),
            code="timeout",
            retryable=True,
            detail=f"timeout after {timeout}s: {method.upper()} {where}",
        ) from None
    except requests.RequestException as exc:
        log.warning("%s %s failed: %s", method.upper(), where, type(exc).__name__)
        raise PlatformError(
            _("Latchkey could not reach %(platform)s.", platform=platform),
            _("This is usually temporary. Try again in a minute."),
            code="unreachable",
            retryable=True,
            detail=f"{type(exc).__name__}: {method.upper()} {where}",
        ) from None
    elapsed_ms = (time.monotonic() - started) * 1000
    log.info("%s %s -> %s in %.0f ms", method.upper(), where, response.status_code, elapsed_ms)

    if 300 <= response.status_code < 400:
        raise PlatformError(
            _("%(platform)s answered in an unexpected way.", platform=platform),
            _("Try again later. If it keeps happening, contact Latchkey support."),
            status=response.status_code,
            code="unexpected_redirect",
            retryable=False,
            detail=f"HTTP {response.status_code} redirect refused: {method.upper()} {where}",
        )
    body = _decode(response)
    if response.status_code >= 400:
        raise _error_for(response, body, platform, method.upper(), where)
    if body is _NOT_JSON:
        raise PlatformError(
            _("%(platform)s answered in an unexpected way.", platform=platform),
            _("Try again later. If it keeps happening, contact Latchkey support."),
            status=response.status_code,
            code="bad_response",
            retryable=True,
            detail=f"HTTP {response.status_code} with a body that is not JSON: "
            f"{method.upper()} {where}",
        )
    return body


# ------------------------------------------------------------------ helpers

_NOT_JSON = object()


def _access_token(token: str | Mapping[str, Any] | None) -> str | None:
    if token is None:
        return None
    if isinstance(token, str):
        return token
    value = token.get("access_token")
    return str(value) if value else None


def _safe_location(url: str) -> str:
    """Host and path only: query strings may carry secrets on some platforms."""
    parts = urlsplit(url)
    return f"{parts.netloc}{parts.path}"


def _decode(response: requests.Response) -> Any:
    if not response.content:
        return {}
    try:
        return response.json()
    except ValueError:
        return _NOT_JSON


def platform_words(body: Any) -> tuple[Any, str | None]:
    """The platform's own error code and message, from the shapes platforms use.

    Pinterest and TikTok: {"code", "message"}; Meta and Google: {"error": {...}};
    OAuth token endpoints: {"error", "error_description"}.
    """
    if not isinstance(body, Mapping):
        return None, None
    error = body.get("error")
    if isinstance(error, Mapping):
        code = error.get("code", error.get("status"))
        return code, _text(error.get("message"))
    if isinstance(error, str):
        return error, _text(body.get("error_description")) or error
    if "code" in body or "message" in body:
        return body.get("code"), _text(body.get("message"))
    return None, None


def _text(value: Any) -> str | None:
    return str(value)[:500] if value is not None else None


def retry_after_seconds(value: str | None) -> int | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0, int(when.timestamp() - time.time()))


def _error_for(
    response: requests.Response, body: Any, platform: str, method: str, where: str
) -> PlatformHTTPError:
    status = response.status_code
    platform_code, platform_message = platform_words(body if body is not _NOT_JSON else None)
    said = f" ({platform_code}: {platform_message})" if platform_message else ""
    detail = f"HTTP {status} on {method} {where}{said}"
    common = {
        "status": status,
        "platform_code": platform_code,
        "platform_message": platform_message,
        "body": body if body is not _NOT_JSON else None,
        "detail": detail,
    }
    if status == 401 or platform_code == "invalid_grant":
        return PlatformHTTPError(
            _("Your %(platform)s sign-in has expired or was withdrawn.", platform=platform),
            _(
                "Sign in to %(platform)s again, then try once more. Nothing you "
                "already granted is lost.",
                platform=platform,
            ),
            code="token_expired",
            **common,
        )
    if status == 403:
        return PlatformHTTPError(
            _(
                "%(platform)s refused: this account does not have the permission needed.",
                platform=platform,
            ),
            _(
                "Sign in to %(platform)s with an account that manages these assets "
                "(an admin of the business), and accept every permission asked for.",
                platform=platform,
            ),
            code="forbidden",
            **common,
        )
    if status == 404:
        return PlatformHTTPError(
            _("%(platform)s could not find this item.", platform=platform),
            _(
                "It may have been removed, or this account cannot see it. Check "
                "that you signed in to %(platform)s with the account that owns it.",
                platform=platform,
            ),
            code="not_found",
            **common,
        )
    if status == 429:
        seconds = retry_after_seconds(response.headers.get("Retry-After"))
        fix = (
            _("Wait %(seconds)s seconds, then try again.", seconds=seconds)
            if seconds is not None
            else _("Wait a minute, then try again.")
        )
        return PlatformHTTPError(
            _("%(platform)s is receiving too many requests right now.", platform=platform),
            fix,
            code="rate_limited",
            retry_after=seconds,
            retryable=True,
            **common,
        )
    if status >= 500:
        return PlatformHTTPError(
            _("%(platform)s had a problem on its side.", platform=platform),
            _("Nothing you did caused this. Try again in a minute."),
            code="platform_unavailable",
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            retryable=True,
            **common,
        )
    return PlatformHTTPError(
        _("%(platform)s did not accept the request.", platform=platform),
        _(
            "Try again. If it keeps failing, contact Latchkey support and quote "
            "the technical detail."
        ),
        code="rejected",
        **common,
    )


__all__ = ["PlatformHTTPError", "call", "platform_words", "retry_after_seconds", "session"]
