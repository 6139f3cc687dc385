"""The emulated Facebook Login: the login dialog and the token endpoint.

- `GET /sandbox/meta/www.facebook.com/v25.0/dialog/oauth`: the consent page
  (response_type=code, client_id, redirect_uri, comma-separated scope, state,
  code_challenge, code_challenge_method=S256; `auth_type` and `config_id` are
  accepted as Facebook accepts them). The form posts back to the same address,
  with CSRF protection like every form of the app.
- `GET|POST /sandbox/meta/graph.facebook.com/v25.0/oauth/access_token`:
  client_id and client_secret as parameters (Meta's way), then either a
  `code` (+ redirect_uri, code_verifier) or `grant_type=fb_exchange_token`
  with `fb_exchange_token` (a still-valid token, exchanged for a new
  long-lived one). Answers {"access_token", "token_type", "expires_in"}: Meta
  has no refresh tokens.
"""

from __future__ import annotations

import hmac
import secrets

from flask import request

from ...extensions import csrf, db
from .. import core
from ..core import bp
from . import world as w

WWW = f"/meta/www.facebook.com/{w.GRAPH_VERSION}"
GRAPH = f"/meta/graph.facebook.com/{w.GRAPH_VERSION}"
AUTHORIZE_ENDPOINT = "sandbox.meta_authorize"


def graph_error(
    status: int,
    code: int,
    message: str,
    *,
    subcode: int | None = None,
    error_type: str = "OAuthException",
    transient: bool = False,
    headers: dict[str, str] | None = None,
) -> core.SandboxAPIError:
    """An error in Graph API's shape."""
    error = {
        "message": message,
        "type": error_type,
        "code": code,
        "fbtrace_id": "A" + secrets.token_urlsafe(16),
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    if transient:
        error["is_transient"] = True
    return core.SandboxAPIError(status, {"error": error}, headers)


@bp.route(WWW + "/dialog/oauth", methods=["GET", "POST"], endpoint="meta_authorize")
def authorize():
    return core.authorize_view(w.PLATFORM, AUTHORIZE_ENDPOINT)


def _client() -> str:
    """The app, from client_id and client_secret parameters (Meta's client authentication)."""
    from ...platforms import credentials

    expected = credentials(w.PLATFORM)
    client_id = request.values.get("client_id") or ""
    secret = request.values.get("client_secret") or ""
    if not hmac.compare_digest(client_id, expected["client_id"]):
        raise graph_error(
            400, w.APP_ID_INVALID, "Error validating application. Invalid application ID."
        )
    if not hmac.compare_digest(secret, expected["client_secret"]):
        raise graph_error(400, w.UNKNOWN_ERROR, "Error validating client secret.")
    return client_id


def _meta_token_body(body: dict) -> dict:
    """Meta's token answer has no refresh token and no scope."""
    return {
        "access_token": body["access_token"],
        "token_type": "bearer",
        "expires_in": body["expires_in"],
    }


@bp.route(GRAPH + "/oauth/access_token", methods=["GET", "POST"], endpoint="meta_token")
@csrf.exempt
def token():
    client_id = _client()
    grant_type = request.values.get("grant_type") or "authorization_code"
    if grant_type == "fb_exchange_token":
        return core.token_response(_exchange(client_id, request.values.get("fb_exchange_token")))
    if grant_type != "authorization_code":
        raise graph_error(400, w.INVALID_PARAMETER, f"Unsupported grant_type: {grant_type}.")
    try:
        body = core.exchange_code(
            w.PLATFORM,
            request.values.get("code"),
            client_id=client_id,
            redirect_uri=request.values.get("redirect_uri"),
            code_verifier=request.values.get("code_verifier"),
        )
    except core.OAuthError as refused:
        description = refused.body.get("error_description", "")
        subcode = w.SUBCODE_CODE_USED if "already used" in description else w.SUBCODE_CODE_INVALID
        raise graph_error(
            400, w.INVALID_PARAMETER, f"Invalid verification code: {description}", subcode=subcode
        ) from None
    # Meta issues no refresh token: forget the one the shared machinery made.
    if body.get("refresh_token"):
        core.delete_records(w.PLATFORM, "refresh_token", [core.token_hash(body["refresh_token"])])
        db.session.commit()
    return core.token_response(_meta_token_body(body))


def _exchange(client_id: str, current: str | None) -> dict:
    """A new long-lived token for a still-valid one (grant_type=fb_exchange_token)."""
    if not current:
        raise graph_error(400, w.INVALID_PARAMETER, "Missing parameter fb_exchange_token.")
    try:
        info = core.authenticate(w.PLATFORM, f"Bearer {current}")
    except core.TokenProblem as problem:
        if problem.reason == "expired":
            raise graph_error(
                400,
                w.INVALID_TOKEN,
                "Error validating access token: Session has expired.",
                subcode=w.SUBCODE_EXPIRED,
            ) from None
        raise graph_error(
            400, w.INVALID_TOKEN, "Invalid OAuth access token.", subcode=w.SUBCODE_INVALID
        ) from None
    if not hmac.compare_digest(info.client_id, client_id):
        raise graph_error(400, w.INVALID_TOKEN, "The access token belongs to another app.")
    body = core.issue_tokens(w.PLATFORM, info.world_id, info.scopes, client_id, with_refresh=False)
    db.session.commit()
    return _meta_token_body(body)
