"""The emulated Google sign-in: consent page, token endpoint and userinfo.

- `GET /sandbox/google/accounts.google.com/o/oauth2/v2/auth`: the consent page
  (response_type=code, client_id, redirect_uri, space-separated scope, state,
  code_challenge, code_challenge_method=S256; Google's access_type, prompt and
  include_granted_scopes are accepted). The form posts back to the same
  address, with CSRF protection like every form of the app.
- `POST /sandbox/google/oauth2.googleapis.com/token`: form body, the client
  authenticated in the body (client_secret_post, as Google documents) or with
  HTTP Basic; grant_type authorization_code or refresh_token. Google keeps
  the refresh token on refresh (it does not rotate it).
- `GET /sandbox/google/www.googleapis.com/oauth2/v2/userinfo`: who signed in,
  as the OAuth2 API v2 describes it (`Userinfo`: `id`, `email`,
  `verified_email`, `name`, ...).
"""

from __future__ import annotations

import hmac

from flask import request

from ...extensions import csrf
from ...platforms import credentials
from .. import core
from ..core import bp
from . import common
from . import world as w

AUTHORIZE_ENDPOINT = "sandbox.google_authorize"
IDENTITY_SCOPES = ("openid", "email", "profile")


@bp.route(
    "/google/accounts.google.com/o/oauth2/v2/auth",
    methods=["GET", "POST"],
    endpoint="google_authorize",
)
def authorize():
    return core.authorize_view(w.PLATFORM, AUTHORIZE_ENDPOINT)


def _client_id() -> str:
    """The client, authenticated in the form body or with HTTP Basic."""
    expected = credentials(w.PLATFORM)
    auth = request.authorization
    if auth is not None and auth.type == "basic":
        given_id, given_secret = auth.username or "", auth.password or ""
    else:
        given_id = request.form.get("client_id") or ""
        given_secret = request.form.get("client_secret") or ""
    id_ok = hmac.compare_digest(given_id, expected["client_id"])
    secret_ok = hmac.compare_digest(given_secret, expected["client_secret"])
    if not (id_ok and secret_ok):
        raise core.OAuthError("invalid_client", "Unauthorized", 401)
    return expected["client_id"]


@bp.route("/google/oauth2.googleapis.com/token", methods=["POST"], endpoint="google_token")
@csrf.exempt
def token():
    client_id = _client_id()
    grant_type = request.form.get("grant_type")
    if grant_type == "authorization_code":
        body = core.exchange_code(
            w.PLATFORM,
            request.form.get("code"),
            client_id=client_id,
            redirect_uri=request.form.get("redirect_uri"),
            code_verifier=request.form.get("code_verifier"),
        )
        body["token_type"] = "Bearer"  # noqa: S105 (Google's spelling)
        return core.token_response(body)
    if grant_type == "refresh_token":
        refresh_token = request.form.get("refresh_token")
        if not refresh_token:
            raise core.OAuthError("invalid_request", "Missing required parameter: refresh_token")
        body = core.refresh_tokens(w.PLATFORM, refresh_token, client_id, rotate=False)
        body["token_type"] = "Bearer"  # noqa: S105
        return core.token_response(body)
    raise core.OAuthError("unsupported_grant_type", "Invalid grant_type: " + str(grant_type))


@common.api_route("www.googleapis.com/oauth2/v2/userinfo", scopes=IDENTITY_SCOPES)
def userinfo(call: common.ApiCall):
    user = call.world()["user"]
    # The description says which fields exist, not which scope shows which:
    # *sandbox choice*, as Google does, e-mail fields with `email` and the
    # profile with `profile`.
    body = {"id": user["sub"]}
    if "profile" in call.token.scopes:
        body.update(
            name=user["name"],
            given_name=user["given_name"],
            picture=user["picture"],
            locale=user["locale"],
        )
    if "email" in call.token.scopes:
        body.update(email=user["email"], verified_email=user["email_verified"])
    return body


__all__ = ["AUTHORIZE_ENDPOINT", "authorize", "token", "userinfo"]
