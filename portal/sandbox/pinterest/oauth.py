"""The emulated Pinterest sign-in: the consent page and the token endpoint.

- `GET  /sandbox/pinterest/www.pinterest.com/oauth/`: the consent page
  (response_type=code, client_id, redirect_uri, comma-separated scope, state,
  code_challenge, code_challenge_method=S256). The form posts back to the same
  address, with CSRF protection like every form of the app.
- `POST /sandbox/pinterest/api.pinterest.com/v5/oauth/token`: form body, HTTP
  Basic client authentication, grant_type authorization_code or refresh_token
  (`continuous_refresh=true` renews the refresh token).
"""

from __future__ import annotations

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
        return core.token_response(body)
    if grant_type == "refresh_token":
        refresh_token = request.form.get("refresh_token")
        if not refresh_token:
            raise core.OAuthError("invalid_request", "refresh_token is required.")
        rotate = request.form.get("continuous_refresh", "").lower() == "true"
        body = core.refresh_tokens(w.PLATFORM, refresh_token, client_id, rotate=rotate)
        body["response_type"] = "refresh_token"
        return core.token_response(body)
    raise core.OAuthError(
        "unsupported_grant_type", "grant_type must be authorization_code or refresh_token."
    )
