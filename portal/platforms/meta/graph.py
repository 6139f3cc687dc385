"""Calling the Graph API: `appsecret_proof` on every call, Meta's error codes
read whatever the HTTP status, short throttles waited out, cursors followed."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator
from typing import Any

from flask_babel import gettext as _

from .. import credentials, http
from ..base import PlatformError, Token
from .terms import (
    MAX_PAGES,
    PERMISSION_CODES,
    TEMPORARY_CODES,
    THROTTLE_CODES,
    TOKEN_INVALID,
    UNSUPPORTED_REQUEST_SUBCODE,
)


class GraphClient:
    """The HTTP side of the Meta connector (mixed into `MetaConnector`)."""

    id: str
    name: str
    timeout: float
    page_size: int
    rate_limit_patience: float
    longest_rate_limit_wait: float

    def _proof(self, access_token: str) -> str:
        secret = credentials(self.id)["client_secret"]
        return hmac.new(secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()

    def _call(
        self,
        method: str,
        path: str,
        token: Token | str,
        params: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
    ) -> Any:
        access_token = token if isinstance(token, str) else str(token.get("access_token") or "")
        query = dict(params or {})
        if access_token:
            query["appsecret_proof"] = self._proof(access_token)
        waited = 0.0
        while True:
            try:
                return http.call(
                    method,
                    self.api_base() + path,
                    token=access_token or None,
                    params=query,
                    data=data,
                    timeout=self.timeout,
                    platform=self.name,
                )
            except http.PlatformHTTPError as exc:
                error = self._translate(exc)
                delay = self._rate_limit_delay(error, waited)
                if delay is None:
                    raise error from None
            time.sleep(delay)
            waited += delay

    def _rate_limit_delay(self, error: PlatformError, waited: float) -> float | None:
        """Seconds to wait before sending the call again, or None to pass the error on."""
        if error.code != "rate_limited" or error.retry_after is None:
            return None
        delay = max(float(error.retry_after), 0.5)
        if delay > self.longest_rate_limit_wait or waited + delay > self.rate_limit_patience:
            return None
        return delay

    @staticmethod
    def _meta_error(exc: http.PlatformHTTPError) -> dict[str, Any]:
        body = exc.body if isinstance(exc.body, dict) else {}
        error = body.get("error")
        return error if isinstance(error, dict) else {}

    def _translate(self, exc: http.PlatformHTTPError) -> http.PlatformHTTPError:
        """Read Meta's error code where its HTTP status says less (Meta answers most with 400)."""
        error = self._meta_error(exc)
        code, subcode = error.get("code"), error.get("error_subcode")
        same = {
            "status": exc.status,
            "platform_code": exc.platform_code,
            "platform_message": exc.platform_message,
            "body": exc.body,
            "detail": exc.detail,
        }
        name = self.name
        if code == TOKEN_INVALID and exc.code != "token_expired":
            return http.PlatformHTTPError(
                _("Your %(platform)s sign-in has expired or was withdrawn.", platform=name),
                _(
                    "Sign in to %(platform)s again, then try once more. Nothing you "
                    "already granted is lost.",
                    platform=name,
                ),
                code="token_expired",
                **same,
            )
        if code in THROTTLE_CODES and exc.code != "rate_limited":
            wait = exc.retry_after
            return http.PlatformHTTPError(
                _("%(platform)s is receiving too many requests right now.", platform=name),
                _("Wait %(seconds)s seconds, then try again.", seconds=wait)
                if wait is not None
                else _("Wait a few minutes, then try again."),
                code="rate_limited",
                retry_after=wait,
                retryable=True,
                **same,
            )
        if (error.get("is_transient") or code in TEMPORARY_CODES) and exc.code not in (
            "platform_unavailable",
            "rate_limited",
        ):
            return http.PlatformHTTPError(
                _("%(platform)s had a problem on its side.", platform=name),
                _("Nothing you did caused this. Try again in a minute."),
                code="platform_unavailable",
                retry_after=exc.retry_after,
                retryable=True,
                **same,
            )
        said = str(error.get("message") or "").lower()
        # Subcode 33 is Meta's but unpublished: its wording is the fallback.
        unsupported = subcode == UNSUPPORTED_REQUEST_SUBCODE or (
            said.startswith("unsupported ") and "does not exist" in said
        )
        if unsupported and exc.code != "not_found":
            return http.PlatformHTTPError(
                _("%(platform)s could not find this item.", platform=name),
                _(
                    "It may have been removed, or this account cannot see it. Check "
                    "that you signed in to %(platform)s with the account that owns it.",
                    platform=name,
                ),
                code="not_found",
                **same,
            )
        if code in PERMISSION_CODES and exc.code != "forbidden" and subcode is None:
            return http.PlatformHTTPError(
                _(
                    "%(platform)s refused: this account does not have the permission needed.",
                    platform=name,
                ),
                _(
                    "Sign in to %(platform)s with an account that manages these assets "
                    "(an admin of the business), and accept every permission asked for.",
                    platform=name,
                ),
                code="forbidden",
                **same,
            )
        return exc

    def _paged(
        self, path: str, token: Token, params: dict[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every node of a list, following the `after` cursor from page to page."""
        query = {**(params or {}), "limit": self.page_size}
        for _page in range(MAX_PAGES):
            body = self._call("GET", path, token, params=query)
            data = body.get("data") if isinstance(body, dict) else None
            yield from (node for node in data or [] if isinstance(node, dict))
            paging = body.get("paging") if isinstance(body, dict) else None
            after = ((paging or {}).get("cursors") or {}).get("after")
            if not (paging or {}).get("next") or not after:
                return
            query["after"] = after
