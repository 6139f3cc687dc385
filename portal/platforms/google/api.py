"""Calling Google's APIs: one helper for every product.

Each product has its own host (`real_urls` names them), but all of them answer
errors the same way, `{"error": {"code", "message", "status", "details"}}`,
where `details` may hold an `ErrorInfo` (`reason`, e.g.
ACCESS_TOKEN_SCOPE_INSUFFICIENT) or, for Google Ads, a `GoogleAdsFailure`
whose `errors[].errorCode` names the exact error (e.g.
`{"managerLinkError": "ALREADY_INVITED_BY_THIS_MANAGER"}`). `GoogleApi.call`
sends the request through `portal.platforms.http` (no redirects, no tokens in
logs, plain-language errors) and turns the errors every product shares into
words for people: a scope the person unticked on Google's consent screen, and
Google Ads' 2-Step Verification requirement.

Reads that Google asks to slow down for a few seconds are waited for here,
call by call, so a page that needs several reads gets through a short rate
limit without starting over.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask_babel import gettext as _

from .. import http
from ..base import PlatformError, Token

if TYPE_CHECKING:
    from . import GoogleConnector

SECURITY_URL = "https://myaccount.google.com/security"
TWO_STEP_URL = "https://myaccount.google.com/signinoptions/two-step-verification"
PERMISSIONS_URL = "https://myaccount.google.com/connections"

# A read told to wait this long or less is tried again after the wait.
LONGEST_WAIT = 6
READ_ATTEMPTS = 3
MAX_PAGES = 50


@dataclass(frozen=True)
class GoogleError:
    """What Google said, beyond the HTTP status: its status name and the exact reason."""

    status: str  # e.g. "PERMISSION_DENIED", "ALREADY_EXISTS"
    reason: str  # an ErrorInfo reason or a Google Ads error code; "" when none
    message: str


def google_error(exc: PlatformError) -> GoogleError:
    """Google's own status and reason for an HTTP error (empty strings when absent)."""
    body = getattr(exc, "body", None)
    error = body.get("error") if isinstance(body, Mapping) else None
    if not isinstance(error, Mapping):
        return GoogleError("", "", "")
    reason = ""
    for detail in error.get("details") or ():
        if not isinstance(detail, Mapping):
            continue
        if detail.get("reason"):
            reason = str(detail["reason"])
            break
        for failure in detail.get("errors") or ():
            code = (failure or {}).get("errorCode") if isinstance(failure, Mapping) else None
            if isinstance(code, Mapping) and code:
                reason = str(next(iter(code.values())))
                break
        if reason:
            break
    if not reason:
        # Older Google APIs (Tag Manager) list {"reason"} under "errors".
        for item in error.get("errors") or ():
            if isinstance(item, Mapping) and item.get("reason"):
                reason = str(item["reason"])
                break
    return GoogleError(str(error.get("status") or ""), reason, str(error.get("message") or ""))


class GoogleApi:
    """One Google product's API, reached through the connector's URLs."""

    def __init__(self, connector: GoogleConnector, product: str, url_name: str):
        self.connector = connector
        self.product = product  # the product's name, as people know it
        self.url_name = url_name  # its base URL in `real_urls`

    def url(self, path: str, url_name: str | None = None) -> str:
        return self.connector.endpoints()[url_name or self.url_name] + path

    def call(
        self,
        method: str,
        path: str,
        token: Token,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        url_name: str | None = None,
        read: bool | None = None,
    ) -> Any:
        """Call the API; a PlatformError in plain words when it fails.

        `read` (default: GET) lets a short rate limit be waited for and the
        call made again; writes are never repeated here.
        """
        read = method.upper() == "GET" if read is None else read
        attempt = 0
        while True:
            attempt += 1
            try:
                return http.call(
                    method,
                    self.url(path, url_name),
                    token=token,
                    json=json,
                    params=params,
                    headers=headers,
                    timeout=self.connector.timeout,
                    platform=self.product,
                )
            except PlatformError as exc:
                wait = exc.retry_after if exc.code == "rate_limited" else None
                if read and wait is not None and wait <= LONGEST_WAIT and attempt < READ_ATTEMPTS:
                    time.sleep(max(wait, 0.5))
                    continue
                raise self.explain(exc) from None

    def pages(
        self,
        path: str,
        token: Token,
        key: str,
        params: Mapping[str, Any] | None = None,
        *,
        url_name: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every item of a list under `key`, following `nextPageToken`."""
        query = dict(params or {})
        for _page in range(MAX_PAGES):
            body = self.call("GET", path, token, params=query, url_name=url_name)
            if not isinstance(body, Mapping):
                return
            for item in body.get(key) or ():
                if isinstance(item, dict):
                    yield item
            following = body.get("nextPageToken")
            if not following:
                return
            query["pageToken"] = following

    def explain(self, exc: PlatformError) -> PlatformError:
        """Google's shared errors in words for people; others as they are."""
        said = google_error(exc)
        if exc.code == "token_expired" and said.reason != "TWO_STEP_VERIFICATION_NOT_ENROLLED":
            return PlatformError(
                _("Your Google sign-in has expired or was withdrawn."),
                _("Sign in to Google again, then try once more. Nothing already granted is lost."),
                status=exc.status,
                code="token_expired",
                detail=exc.detail,
            )
        if said.reason == "ACCESS_TOKEN_SCOPE_INSUFFICIENT":
            return PlatformError(
                _(
                    "When signing in to Google, %(product)s was not allowed for Latchkey.",
                    product=self.product,
                ),
                _(
                    "Sign in to Google again and leave every box ticked on Google's "
                    "permission page (Latchkey only uses what this request needs)."
                ),
                status=exc.status,
                code="scope_missing",
                detail=exc.detail,
            )
        if said.reason == "TWO_STEP_VERIFICATION_NOT_ENROLLED":
            return PlatformError(
                _("Google Ads asks for 2-Step Verification on this Google account."),
                _(
                    "Turn on 2-Step Verification for your Google account (%(url)s), then "
                    "sign in to Google again on this page: Google only accepts a sign-in "
                    "made after it is on.",
                    url=TWO_STEP_URL,
                ),
                status=exc.status,
                code="two_factor_off",
                detail=exc.detail,
            )
        return exc


__all__ = ["GoogleApi", "GoogleError", "google_error"]
