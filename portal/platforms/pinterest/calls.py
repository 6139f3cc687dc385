"""How the Pinterest connector calls Pinterest: its API, and its token endpoint.

Pinterest's description (`POST /oauth/token`) declares, for a code: grant_type,
code, redirect_uri (client id and secret go in HTTP Basic); for a refresh:
grant_type, refresh_token, scope, and in its text `continuous_refresh=true`
for apps created before 25 September 2025. It defines no PKCE, so the
authorization asks for none (`OAuthEndpoints.pkce`) and the code is traded
here, without a code_verifier.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from flask_babel import gettext as _

from .. import credentials, http
from ..base import Connector, OAuthEndpoints, PlatformError, Token
from .terms import MAX_PAGES

SCOPES = (
    "user_accounts:read",
    "biz_access:read",
    "biz_access:write",
    "ads:read",
    "boards:read",
    "catalogs:read",
)


class PinterestAPI(Connector):
    """HTTP and OAuth for the Pinterest connector."""

    # Seconds to wait for Pinterest before giving up on a call.
    timeout: float = http.DEFAULT_TIMEOUT
    # Items asked for per page of a list (Pinterest allows up to 250).
    page_size: int = 100

    def oauth_endpoints(self) -> OAuthEndpoints:
        urls = self.endpoints()
        return OAuthEndpoints(
            authorize_url=urls["authorize"],
            token_url=urls["token"],
            scopes=SCOPES,
            scope_separator=",",
            pkce=False,
        )

    # ------------------------------------------------------------ API

    def _call(self, method: str, path: str, token: Token, **kwargs: Any) -> Any:
        return http.call(
            method,
            self.api_base() + path,
            token=token,
            timeout=self.timeout,
            platform=self.name,
            **kwargs,
        )

    @staticmethod
    def _items(body: Any) -> list[dict[str, Any]]:
        if isinstance(body, list):
            return body
        if isinstance(body, dict):
            return list(body.get("items") or [])
        return []

    def _paged(
        self, path: str, token: Token, params: dict[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every item of a list, following `bookmark` from page to page."""
        query = {**(params or {}), "page_size": self.page_size}
        for _page in range(MAX_PAGES):
            body = self._call("GET", path, token, params=query)
            yield from self._items(body)
            bookmark = body.get("bookmark") if isinstance(body, dict) else None
            if not bookmark:
                return
            query["bookmark"] = bookmark

    # ---------------------------------------------------------- tokens

    def _token_call(self, fields: dict[str, str]) -> dict[str, Any]:
        creds = credentials(self.id)
        body = http.call(
            "POST",
            self.oauth_endpoints().token_url,
            data=fields,
            auth=(creds["client_id"], creds["client_secret"]),
            timeout=self.timeout,
            platform=self.name,
        )
        if not isinstance(body, dict) or not body.get("access_token"):
            raise PlatformError(
                _("Pinterest did not return a new access token."),
                _("Connect Pinterest again."),
                code="no_token",
            )
        token = dict(body)
        if token.get("expires_in"):
            token["expires_at"] = int(time.time()) + int(token["expires_in"])
        return token

    def exchange_code(self, code: str, code_verifier: str, redirect_uri: str) -> Token:
        """Trade the sign-in's code for tokens (no PKCE: see the module's text)."""
        fields = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        try:
            return self._token_call(fields)
        except http.PlatformHTTPError as exc:
            if exc.status not in (400, 401):
                raise
            raise PlatformError(
                _(
                    "%(platform)s did not accept the sign-in: it expired or was already used.",
                    platform=self.name,
                ),
                _("Start again and sign in to %(platform)s once more.", platform=self.name),
                code="invalid_grant",
                detail=exc.detail,
            ) from None

    def refresh_token(self, token: Token) -> Token:
        """A new access token, and a new (continuous) refresh token."""
        refresh = token.get("refresh_token")
        if not refresh:
            raise PlatformError(
                _("The Pinterest connection has expired."),
                _("Connect Pinterest again."),
                code="token_expired",
            )
        new = self._token_call(
            {"grant_type": "refresh_token", "refresh_token": refresh, "continuous_refresh": "true"}
        )
        new.setdefault("refresh_token", refresh)
        return new
