"""The emulated Pinterest sign-in: the consent page and the token endpoint.

- `GET  /sandbox/pinterest/www.pinterest.com/oauth/`: the consent page
  (response_type=code, client_id, redirect_uri, comma-separated scope, state,
  code_challenge, code_challenge_method=S256). The form posts back to the same
  address, with CSRF protection like every form of the app.
- `POST /sandbox/pinterest/api.pinterest.com/v5/oauth/token`: form body, HTTP
  Basic client authentication, grant_type authorization_code or refresh_token.
  Refresh tokens are continuous: each refresh renews them. The description
  says Pinterest no longer supports the legacy (non-renewing) refresh token,
  and its refresh answer requires `refresh_token`, `refresh_token_expires_in`
  and `refresh_token_expires_at`; `continuous_refresh=true` (which apps
  created before 25 September 2025 send) changes nothing here.

Pinterest's description defines no PKCE and the connector sends none. The
consent page shared by every emulated platform still checks a
code_challenge when a client sends one (*sandbox choice*).
"""

from __future__ import annotations

import time

from flask import request

from ...extensions import csrf
from .. import core
from ..core import bp
from . import world as w

WWW = "/pinterest/www.pinterest.com"
API = "/pinterest/api.pinterest.com/v5"
AUTHORIZE_ENDPOINT = "sandbox.pinterest_authorize"


@bp.route(WWW + "/oauth/", methods=["GET", "POST"], endpoint="pinterest_authorize")
def authorize():
    return core.authorize_view(w.PLATFORM, AUTHORIZE_ENDPOINT)


@bp.route(API + "/oauth/token", methods=["POST"], endpoint="pinterest_token")
@csrf.exempt
def token():
    client_id = core.client_from_basic_auth(w.PLATFORM, request.authorization)
    grant_type = request.form.get("grant_type")
    if grant_type == "authorization_code":
        body = core.exchange_code(
            w.PLATFORM,
            request.form.get("code"),
            client_id=client_id,
            redirect_uri=request.form.get("redirect_uri"),
            code_verifier=request.form.get("code_verifier"),
        )
        body["response_type"] = "authorization_code"
        return core.token_response(_with_expiry(body))
    if grant_type == "refresh_token":
        refresh_token = request.form.get("refresh_token")
        if not refresh_token:
            raise core.OAuthError("invalid_request", "refresh_token is required.")
        body = core.refresh_tokens(w.PLATFORM, refresh_token, client_id, rotate=True)
        body["response_type"] = "refresh_token"
        return core.token_response(_with_expiry(body))
    raise core.OAuthError(
        "unsupported_grant_type", "grant_type must be authorization_code or refresh_token."
    )


def _with_expiry(body: dict) -> dict:
    """Pinterest also gives the refresh token's end as a Unix time (seconds)."""
    if body.get("refresh_token_expires_in"):
        body["refresh_token_expires_at"] = int(time.time()) + body["refresh_token_expires_in"]
    return body
