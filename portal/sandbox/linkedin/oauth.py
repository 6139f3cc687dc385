"""The emulated LinkedIn sign-in: the consent page and the token endpoint.

- `GET  /sandbox/linkedin/www.linkedin.com/oauth/v2/authorization`: the consent
  page (response_type=code, client_id, redirect_uri, space-separated scope,
  state; LinkedIn's documented flow has no PKCE, so a code_challenge is
  ignored). The form posts back to the same
  address, with CSRF protection like every form of the app.
- `POST /sandbox/linkedin/www.linkedin.com/oauth/v2/accessToken`: form body with
  the client's id and secret in it (LinkedIn does not take HTTP Basic),
  grant_type authorization_code or refresh_token. Access tokens live 60 days,
  refresh tokens 365 days; refreshing keeps the same refresh token.
"""

from __future__ import annotations

import dataclasses
import hmac

from flask import request

from ...extensions import csrf
from ...platforms import credentials
from .. import core
from ..core import bp
from . import world as w

WWW = "/linkedin/www.linkedin.com/oauth/v2"
AUTHORIZE_ENDPOINT = "sandbox.linkedin_authorize"


def _authorize_request(values) -> core.AuthorizeRequest:
    """LinkedIn's Authorization Code Flow takes response_type, client_id,
    redirect_uri, state and scope; it documents no PKCE, so a code_challenge
    is ignored (and the token step asks for no code_verifier)."""
    req = core.authorize_request(core.platform(w.PLATFORM), values)
    return dataclasses.replace(req, code_challenge="", code_challenge_method="")


@bp.route(WWW + "/authorization", methods=["GET", "POST"], endpoint="linkedin_authorize")
def authorize():
    return core.authorize_view(w.PLATFORM, AUTHORIZE_ENDPOINT, parse=_authorize_request)


def _client_from_form() -> str:
    """client_secret_post: the client's id and secret are form fields."""
    expected = credentials(w.PLATFORM)
    id_ok = hmac.compare_digest(request.form.get("client_id") or "", expected["client_id"])
    secret_ok = hmac.compare_digest(
        request.form.get("client_secret") or "", expected["client_secret"]
    )
    if not (id_ok and secret_ok):
        raise core.OAuthError(
            "invalid_client",
            "Client authentication failed: send client_id and client_secret in the form body.",
            401,
        )
    return expected["client_id"]


def _linkedin_shape(body: dict) -> dict:
    # LinkedIn lists granted scopes separated by commas.
    body["scope"] = ",".join(s for s in str(body.get("scope", "")).split(" ") if s)
    body.pop("token_type", None)
    return body


@bp.route(WWW + "/accessToken", methods=["POST"], endpoint="linkedin_token")
@csrf.exempt
def token():
    client_id = _client_from_form()
    grant_type = request.form.get("grant_type")
    if grant_type == "authorization_code":
        body = core.exchange_code(
            w.PLATFORM,
            request.form.get("code"),
            client_id=client_id,
            redirect_uri=request.form.get("redirect_uri"),
            code_verifier=None,
        )
        return core.token_response(_linkedin_shape(body))
    if grant_type == "refresh_token":
        refresh_token = request.form.get("refresh_token")
        if not refresh_token:
            raise core.OAuthError("invalid_request", "refresh_token is required.")
        body = core.refresh_tokens(w.PLATFORM, refresh_token, client_id, rotate=False)
        body["refresh_token"] = refresh_token  # the same one, as LinkedIn does
        return core.token_response(_linkedin_shape(body))
    raise core.OAuthError(
        "unsupported_grant_type", "grant_type must be authorization_code or refresh_token."
    )
