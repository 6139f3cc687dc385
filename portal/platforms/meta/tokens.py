"""Facebook Login's token endpoint, as Meta documents it: a GET with the app's
id and secret as parameters (`GET /oauth/access_token`), for the sign-in's code
(with the PKCE verifier) and for a new long-lived token in exchange for one
that still works (`grant_type=fb_exchange_token`). Meta has no refresh tokens.

The code, the verifier, the secret and the token travel in the query string
because that is the documented call; `portal.observability` scrubs those
parameters from every log line.
"""

from __future__ import annotations

import time
from typing import Any

from flask_babel import gettext as _

from .. import credentials, http
from ..base import PlatformError, Token

# Meta's answer to a code it does not accept (used, expired, another redirect).
CODE_REFUSED_CODE = 100


class Tokens:
    """The token side of the Meta connector (mixed into `MetaConnector`, which
    gives it `oauth_endpoints` and `_translate`)."""

    id: str
    name: str
    timeout: float

    def _token_call(self, params: dict[str, Any]) -> dict[str, Any]:
        creds = credentials(self.id)
        body = http.call(
            "GET",
            self.oauth_endpoints().token_url,
            params={
                "client_id": creds["client_id"],
                "client_secret": creds["client_secret"],
                **params,
            },
            timeout=self.timeout,
            platform=self.name,
        )
        if not isinstance(body, dict) or not body.get("access_token"):
            raise PlatformError(
                _("%(platform)s did not return an access token.", platform=self.name),
                _("Start again and sign in to %(platform)s once more.", platform=self.name),
                code="no_token",
            )
        token: Token = {"access_token": body["access_token"], "token_type": "bearer"}
        if body.get("expires_in"):
            token["expires_in"] = int(body["expires_in"])
            token["expires_at"] = int(time.time()) + int(body["expires_in"])
        return token

    def exchange_code(self, code: str, code_verifier: str, redirect_uri: str) -> Token:
        """Trade the sign-in's code (and the PKCE verifier) for a long-lived token."""
        try:
            return self._token_call(
                {"redirect_uri": redirect_uri, "code": code, "code_verifier": code_verifier}
            )
        except http.PlatformHTTPError as exc:
            translated = self._translate(exc)
            if translated.platform_code == CODE_REFUSED_CODE or translated.status == 400:
                raise PlatformError(
                    _(
                        "%(platform)s did not accept the sign-in: it expired or was already used.",
                        platform=self.name,
                    ),
                    _("Start again and sign in to %(platform)s once more.", platform=self.name),
                    status=translated.status,
                    code="invalid_grant",
                    detail=translated.detail,
                ) from None
            raise translated from None

    def refresh_token(self, token: Token) -> Token:
        """A new long-lived token for one that still works (Meta has no refresh tokens).

        An expired token cannot be exchanged: the agency then connects Meta again.
        """
        current = token.get("access_token")
        if not current:
            raise PlatformError(
                _("The Meta connection has expired."),
                _("Connect Meta again in Connections."),
                code="no_refresh_token",
            )
        try:
            new = self._token_call(
                {"grant_type": "fb_exchange_token", "fb_exchange_token": current}
            )
        except http.PlatformHTTPError as exc:
            translated = self._translate(exc)
            if translated.code == "token_expired" or translated.status in (400, 401):
                raise PlatformError(
                    _("The Meta connection has expired."),
                    _("Connect Meta again in Connections."),
                    status=translated.status,
                    code="invalid_grant",
                    detail=translated.detail,
                ) from None
            raise translated from None
        except PlatformError as exc:
            if exc.code == "no_token":
                raise PlatformError(
                    _("Meta did not return a new access token."),
                    _("Connect Meta again in Connections."),
                    code="no_token",
                ) from None
            raise
        if token.get("refresh_token"):
            new["refresh_token"] = token["refresh_token"]
        return new
