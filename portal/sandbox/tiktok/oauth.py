"""The emulated TikTok for Business sign-in: the authorization page and token exchange.

- `GET /sandbox/tiktok/business-api.tiktok.com/portal/auth`: the consent page
  (`app_id`, `redirect_uri`, `state`; TikTok takes no scope here: the app's
  permissions were chosen when the app was created). The form posts back to
  the same address with CSRF protection. Allowing redirects back with
  `auth_code` and `code` (the same value) and `state`.
- `POST /sandbox/tiktok/business-api.tiktok.com/open_api/v1.3/oauth2/access_token/`:
  a JSON body `{"app_id", "secret", "auth_code"}`; the answer is TikTok's
  envelope with `data.access_token` and `data.advertiser_ids`.
  The token does not expire and there is no refresh token.
"""

from __future__ import annotations

import hmac
from urllib.parse import parse_qsl, urlsplit

from flask import Response, request

from ...extensions import csrf
from ...platforms import credentials
from .. import core
from ..core import bp
from . import api
from . import world as w

PORTAL = "/tiktok/business-api.tiktok.com/portal"
AUTHORIZE_ENDPOINT = "sandbox.tiktok_authorize"


def _authorize_request(values) -> core.AuthorizeRequest:
    return core.AuthorizeRequest(
        response_type="code",
        client_id=values.get("app_id") or values.get("client_id") or "",
        redirect_uri=values.get("redirect_uri") or "",
        # The app's permissions, whatever the URL says.
        scopes=tuple(w.SCOPE_LABELS),
        state=values.get("state") or "",
        # TikTok's advertiser authorization has no PKCE.
        code_challenge="",
        code_challenge_method="",
    )


@bp.route(PORTAL + "/auth", methods=["GET", "POST"], endpoint="tiktok_authorize")
def authorize():
    answer = core.authorize_view(w.PLATFORM, AUTHORIZE_ENDPOINT, parse=_authorize_request)
    return _with_auth_code(answer)


def _with_auth_code(answer):
    """TikTok names the code `auth_code`, and repeats it as `code`."""
    if not isinstance(answer, Response) or answer.status_code != 302:
        return answer
    location = answer.headers["Location"]
    params = dict(parse_qsl(urlsplit(location).query))
    if "code" in params:
        answer.headers["Location"] = core.with_params(location, {"auth_code": params["code"]})
    return answer


@bp.route(api.API + "/oauth2/access_token/", methods=["POST"], endpoint="tiktok_token")
@csrf.exempt
def token():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise api.error(w.INVALID_PARAMETERS, "The request body must be a JSON object.")
    expected = credentials(w.PLATFORM)
    app_ok = hmac.compare_digest(str(body.get("app_id") or ""), expected["client_id"])
    secret_ok = hmac.compare_digest(str(body.get("secret") or ""), expected["client_secret"])
    if not (app_ok and secret_ok):
        raise api.error(w.INVALID_APP, "The app_id and secret do not match.")
    auth_code = str(body.get("auth_code") or "")
    if not auth_code:
        raise api.error(w.INVALID_PARAMETERS, "auth_code is required.")
    # TikTok's token step has no redirect_uri: the one the code was issued for stands.
    issued = core.get_record(w.PLATFORM, "code", core.token_hash(auth_code))
    try:
        tokens = core.exchange_code(
            w.PLATFORM,
            auth_code,
            client_id=expected["client_id"],
            redirect_uri=issued.data["redirect_uri"] if issued else None,
            code_verifier=None,
        )
    except core.OAuthError as refused:
        raise api.error(
            w.INVALID_AUTH_CODE,
            f"Auth code is invalid or expired. {refused.body['error_description']}",
        ) from None
    info = core.authenticate(w.PLATFORM, f"Bearer {tokens['access_token']}")
    world = core.world_data(w.PLATFORM, info.world_id)
    # TikTok's page lists `scope` as the IDs of the app's permission scopes; the
    # sandbox's app has no real scope IDs, so it leaves the field out
    # (*sandbox choice*).
    return api.ok(
        {
            "access_token": tokens["access_token"],
            "advertiser_ids": [a["advertiser_id"] for a in world["advertisers"]],
        }
    )
