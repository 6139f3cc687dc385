"""Signing in to LinkedIn: the token endpoint, as LinkedIn's pages document it.

A mixin of `LinkedInConnector`. The code exchange and the refresh post the
form fields of LinkedIn's Authorization Code Flow and programmatic refresh
token pages, and read only the answer's documented fields. The flow
documents no PKCE, so no code_verifier is sent.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from flask_babel import gettext as _

from .. import credentials, http
from ..base import OAuthEndpoints, PlatformError, Token

# The token endpoint's documented answer (Authorization Code Flow, step 3).
TOKEN_FIELDS = ("access_token", "expires_in", "refresh_token", "refresh_token_expires_in", "scope")


class SignIn:
    id: str
    name: str
    timeout: float
    oauth_endpoints: Callable[[], OAuthEndpoints]

    def exchange_code(self, code: str, code_verifier: str, redirect_uri: str) -> Token:
        """Trade the sign-in's code for a token with the form fields LinkedIn's
        Authorization Code Flow documents (step 3): grant_type, code, redirect_uri,
        client_id, client_secret. That flow documents no PKCE: no code_verifier."""
        return self._token_call(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
            refused=_("Start again and sign in to %(platform)s once more.", platform=self.name),
        )

    def refresh_token(self, token: Token) -> Token:
        """A new access token from the refresh token (LinkedIn's programmatic refresh
        tokens page: grant_type, refresh_token, client_id, client_secret). LinkedIn
        keeps the refresh token's own lifetime: the same one comes back."""
        if not token.get("refresh_token"):
            raise PlatformError(
                _("The LinkedIn connection can no longer be renewed."),
                _("Connect LinkedIn again."),
                code="no_refresh_token",
            )
        renewed = self._token_call(
            {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
            refused=_("Connect LinkedIn again."),
        )
        renewed.setdefault("refresh_token", token["refresh_token"])
        return renewed

    def _token_call(self, fields: dict[str, str], refused: str) -> Token:
        creds = credentials(self.id)
        try:
            answer = http.call(
                "POST",
                self.oauth_endpoints().token_url,
                data={
                    **fields,
                    "client_id": creds["client_id"],
                    "client_secret": creds["client_secret"],
                },
                timeout=self.timeout,
                platform=self.name,
            )
        except http.PlatformHTTPError as exc:
            if exc.status not in (400, 401):
                raise
            raise PlatformError(
                _(
                    "%(platform)s did not accept the sign-in: it expired or was already used.",
                    platform=self.name,
                ),
                refused,
                code="invalid_grant",
                detail=exc.detail,
            ) from None
        # Only the answer's documented fields, each read once.
        token = {k: answer[k] for k in TOKEN_FIELDS if k in answer}
        if not token.get("access_token"):
            raise PlatformError(
                _("%(platform)s did not return an access token.", platform=self.name),
                refused,
                code="no_token",
            )
        if token.get("expires_in"):
            token["expires_at"] = int(time.time()) + int(token["expires_in"])
        return token
