"""OAuth 2 with every platform, for clients (the link) and agencies (Connections).

Authlib's `OAuth2Session` does the protocol: authorization code with PKCE
(S256) and a random `state`. The state record (platform, purpose, whose it is,
the PKCE verifier) lives server-side in `portal.kv` for ten minutes and is
popped atomically on the callback, so a state works once. It is also bound to
the browser that started the sign-in (a digest in its signed session), so a
state started elsewhere, for another link or agency, is refused.

There is one redirect URI per platform, built from LATCHKEY_BASE_URL and never
from the Host header: `{base}/oauth/<platform>/callback`.

A client's platform token lives only between consent and grant: encrypted in
`portal.kv` for thirty minutes under the access request and platform, then
deleted right after the grant. It never reaches the database, a log or a URL.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    g,
    render_template,
    request,
    session,
)
from flask_babel import gettext as _
from flask_login import current_user

from . import audit, crypto, kv, platforms
from .extensions import db, limiter
from .platforms.base import Connector, PlatformError, Token

log = logging.getLogger("latchkey.oauth")

STATE_TTL = 10 * 60
CLIENT_TOKEN_TTL = 30 * 60
HTTP_TIMEOUT = 20
# How many sign-ins one browser may have under way at once.
MAX_BOUND_STATES = 5
# How many finished sign-ins one browser remembers (Back, then Allow again).
MAX_USED_STATES = 5
PURPOSES = ("client", "agency")

bp = Blueprint("oauth", __name__)


class OAuthStateError(Exception):
    """The callback's state is missing, used, expired or not this browser's."""

    def __init__(self, reason: str, state: OAuthState | None = None, in_this_browser: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.state = state
        # Started (and for a used state, finished) in this very browser: its
        # page may take the person back to where they were.
        self.in_this_browser = in_this_browser


@dataclass(frozen=True)
class OAuthState:
    platform: str
    purpose: str  # "client" or "agency"
    subject_id: int  # the access request id (client) or the agency id (agency)
    agency_id: int
    code_verifier: str
    created: float
    user_id: int | None = None  # who started an agency connection

    @property
    def subject(self) -> str:
        return f"{self.purpose}:{self.subject_id}"


# ------------------------------------------------------------------ helpers


def redirect_uri(platform_id: str) -> str:
    """The one callback address registered with the platform."""
    return f"{current_app.config['LATCHKEY_BASE_URL']}/oauth/{platform_id}/callback"


def _session_for(connector: Connector, with_scope: bool = True) -> OAuth2Session:
    creds = platforms.credentials(connector.id)
    endpoints = connector.oauth_endpoints()
    return OAuth2Session(
        client_id=creds["client_id"],
        client_secret=creds["client_secret"],
        token_endpoint_auth_method=endpoints.token_endpoint_auth_method,
        scope=endpoints.scope_separator.join(endpoints.scopes) if with_scope else None,
        redirect_uri=redirect_uri(connector.id),
        code_challenge_method="S256" if endpoints.pkce else None,
        default_timeout=HTTP_TIMEOUT,
    )


def _digest(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()[:32]


def _state_key(state: str) -> str:
    # The digest, not the state itself, names the stored record.
    return f"oauth:state:{_digest(state)}"


def _bind_to_browser(state: str, subject: str) -> None:
    bound = [entry for entry in session.get("oauth_states", []) if isinstance(entry, list)]
    bound.append([_digest(state), subject])
    session["oauth_states"] = bound[-MAX_BOUND_STATES:]


def _remember_used(state: str, record: OAuthState) -> None:
    """Note in this browser that the state was used, and for what: coming back
    with it (Back, then Allow again) then leads to where the person was."""
    used = [entry for entry in session.get("oauth_used", []) if isinstance(entry, list)]
    used.append([_digest(state), record.platform, record.purpose, record.subject_id,
                 record.agency_id])  # fmt: skip
    session["oauth_used"] = used[-MAX_USED_STATES:]


def _used_here(state: str) -> OAuthState | None:
    """The sign-in this browser already finished with `state`, if any."""
    digest = _digest(state)
    for entry in session.get("oauth_used", []):
        if isinstance(entry, list) and len(entry) == 5 and entry[0] == digest:
            platform, purpose, subject_id, agency_id = entry[1:]
            return OAuthState(platform, purpose, int(subject_id), int(agency_id), "", 0.0)
    return None


def _unbind_from_browser(state: str) -> str | None:
    """Forget the state in this browser; return the subject it was started for."""
    digest = _digest(state)
    bound = session.get("oauth_states", [])
    subject = next((entry[1] for entry in bound if entry[0] == digest), None)
    if subject is not None:
        session["oauth_states"] = [entry for entry in bound if entry[0] != digest]
    return subject


def _platform_error(connector: Connector, exc: Exception) -> PlatformError:
    """Turn an OAuth or network failure into words for people."""
    if isinstance(exc, PlatformError):
        return exc
    if isinstance(exc, OAuthError) and getattr(exc, "error", "") == "invalid_grant":
        return PlatformError(
            _(
                "%(platform)s did not accept the sign-in: it expired or was already used.",
                platform=connector.name,
            ),
            _("Start again and sign in to %(platform)s once more.", platform=connector.name),
            code="invalid_grant",
        )
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        status = exc.response.status_code
        if status == 429:
            retry_after = exc.response.headers.get("Retry-After")
            return PlatformError(
                _("%(platform)s is busy right now.", platform=connector.name),
                _("Wait a minute, then try again."),
                status=429,
                code="rate_limited",
                retry_after=int(retry_after) if (retry_after or "").isdigit() else None,
                retryable=True,
            )
        return PlatformError(
            _(
                "%(platform)s answered with an error (HTTP %(status)d).",
                platform=connector.name,
                status=status,
            ),
            _("Try again in a minute. If it keeps happening, contact the agency."),
            status=status,
            retryable=status >= 500,
        )
    if isinstance(exc, requests.RequestException):
        return PlatformError(
            _("We could not reach %(platform)s.", platform=connector.name),
            _("Check your connection and try again in a minute."),
            code="unreachable",
            retryable=True,
        )
    return PlatformError(
        _("%(platform)s refused the sign-in.", platform=connector.name),
        _("Start again and sign in to %(platform)s once more.", platform=connector.name),
        code="oauth_error",
    )


def _checked(connector: Connector, token) -> Token:
    token = dict(token)
    if not token.get("access_token"):
        # Some platforms answer errors in their own shape ({"code", "message"}).
        raise PlatformError(
            _("%(platform)s did not return an access token.", platform=connector.name),
            _("Start again and sign in to %(platform)s once more.", platform=connector.name),
            code="no_token",
        )
    if "expires_at" not in token and token.get("expires_in"):
        token["expires_at"] = int(time.time()) + int(token["expires_in"])
    return token


# ----------------------------------------------------------- the protocol


def authorization_url(
    connector: Connector,
    purpose: str,
    subject_id: int,
    agency_id: int,
    user_id: int | None = None,
) -> str:
    """Start a sign-in: store the state, bind it to this browser, return the URL."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown OAuth purpose {purpose!r}")
    state = secrets.token_urlsafe(32)
    record = OAuthState(
        platform=connector.id,
        purpose=purpose,
        subject_id=int(subject_id),
        agency_id=int(agency_id),
        code_verifier=generate_token(64),
        created=time.time(),
        user_id=user_id,
    )
    kv.put(_state_key(state), json.dumps(asdict(record)), STATE_TTL)
    _bind_to_browser(state, record.subject)
    custom = getattr(connector, "authorization_request_url", None)
    if custom is not None:
        # A sign-in page that is not plain OAuth 2.0 (TikTok's takes app_id,
        # state and redirect_uri only): the connector builds its address.
        return custom(state, redirect_uri(connector.id))
    endpoints = connector.oauth_endpoints()
    url, _state = _session_for(connector).create_authorization_url(
        endpoints.authorize_url,
        state=state,
        code_verifier=record.code_verifier,
        **endpoints.extra_authorize_params,
    )
    return url


def take_state(platform_id: str, state: str | None) -> OAuthState:
    """Use up the callback's state; OAuthStateError if it cannot be trusted."""
    if not state or len(state) > 200:
        raise OAuthStateError("missing")
    raw = kv.pop(_state_key(state))
    bound_subject = _unbind_from_browser(state)
    if raw is None:
        used = _used_here(state)
        if used is not None and used.platform == platform_id:
            raise OAuthStateError("unknown_or_used", used, in_this_browser=True)
        raise OAuthStateError("unknown_or_used")
    record = OAuthState(**json.loads(raw))
    if time.time() - record.created > STATE_TTL:
        raise OAuthStateError("expired", record, in_this_browser=bound_subject == record.subject)
    if record.platform != platform_id:
        raise OAuthStateError("wrong_platform", record)
    if bound_subject != record.subject:
        raise OAuthStateError("foreign", record)
    if record.purpose == "agency" and (
        g.get("agency_id") != record.agency_id
        or not current_user.is_authenticated
        or current_user.id != record.user_id
    ):
        raise OAuthStateError("foreign", record)
    _remember_used(state, record)
    return record


def exchange_code(connector: Connector, state: OAuthState, code: str) -> Token:
    """Trade the authorization code (and the PKCE verifier) for a token."""
    custom = getattr(connector, "exchange_code", None)
    if custom is not None:
        # A token endpoint that is not plain OAuth 2.0 (TikTok: a JSON body,
        # the token under "data"): the connector makes the call itself.
        return _checked(connector, custom(code, state.code_verifier, redirect_uri(connector.id)))
    endpoints = connector.oauth_endpoints()
    extra = dict(getattr(endpoints, "extra_token_params", None) or {})
    try:
        token = _session_for(connector).fetch_token(
            endpoints.token_url,
            grant_type="authorization_code",
            code=code,
            code_verifier=state.code_verifier,
            **extra,
        )
    except (OAuthError, requests.RequestException, ValueError) as exc:
        log.info("token exchange with %s failed: %s", connector.id, type(exc).__name__)
        raise _platform_error(connector, exc) from None
    return _checked(connector, token)


def refresh(connector: Connector, token: Token) -> Token:
    """A fresh access token from the refresh token (used by Connector.refresh_token)."""
    refresh_token = token.get("refresh_token")
    if not refresh_token:
        raise PlatformError(
            _("The %(platform)s connection expired.", platform=connector.name),
            _("Connect %(platform)s again.", platform=connector.name),
            code="no_refresh_token",
        )
    try:
        new = _session_for(connector, with_scope=False).refresh_token(
            connector.oauth_endpoints().token_url, refresh_token=refresh_token
        )
    except (OAuthError, requests.RequestException, ValueError) as exc:
        log.info("token refresh with %s failed: %s", connector.id, type(exc).__name__)
        raise _platform_error(connector, exc) from None
    new = _checked(connector, new)
    new.setdefault("refresh_token", refresh_token)
    return new


# ------------------------------------------------- the client's platform token


def _client_token_key(access_request_id: int, platform_id: str) -> str:
    return f"client-token:{access_request_id}:{platform_id}"


def keep_client_token(access_request_id: int, platform_id: str, token: Token) -> None:
    kv.put(
        _client_token_key(access_request_id, platform_id),
        crypto.encrypt(json.dumps(token)),
        CLIENT_TOKEN_TTL,
    )


def client_token(access_request_id: int, platform_id: str) -> Token | None:
    raw = kv.get(_client_token_key(access_request_id, platform_id))
    if raw is None:
        return None
    try:
        return json.loads(crypto.decrypt(raw))
    except (crypto.InvalidToken, ValueError):
        # Encrypted under a key that is gone: as good as absent.
        discard_client_token(access_request_id, platform_id)
        return None


def discard_client_token(access_request_id: int, platform_id: str) -> None:
    kv.delete_key(_client_token_key(access_request_id, platform_id))


# ------------------------------------------------------------ the callback

CallbackHandler = Callable[[Connector, OAuthState, "str | None", "str | None"], Response]
RejectionHandler = Callable[[Connector, OAuthState, str], Response]
_HANDLERS: dict[str, CallbackHandler] = {}
_REJECTION_HANDLERS: dict[str, RejectionHandler] = {}


def on_callback(purpose: str) -> Callable[[CallbackHandler], CallbackHandler]:
    """Register what the callback does for `purpose` once the state is trusted.

    The handler gets (connector, state, code, error) and returns the response.
    """

    def register(handler: CallbackHandler) -> CallbackHandler:
        _HANDLERS[purpose] = handler
        return handler

    return register


def on_rejected(purpose: str) -> Callable[[RejectionHandler], RejectionHandler]:
    """Register the page for a sign-in this browser started that cannot be used
    (finished already, or too old): (connector, state, reason) -> response.

    Without one, the generic error page answers.
    """

    def register(handler: RejectionHandler) -> RejectionHandler:
        _REJECTION_HANDLERS[purpose] = handler
        return handler

    return register


REJECTION_MESSAGES = {
    "missing": lambda: _("This sign-in has no security code, so it cannot be trusted."),
    "unknown_or_used": lambda: _("This sign-in has expired or was already used."),
    "expired": lambda: _("This sign-in took longer than 10 minutes and has expired."),
    "wrong_platform": lambda: _("This sign-in was started for another platform."),
    "foreign": lambda: _("This sign-in was started in another browser or for another link."),
}


@bp.get("/oauth/<platform>/callback")
@limiter.limit("30/minute")
def callback(platform: str):
    try:
        connector = platforms.get(platform)
    except KeyError:
        abort(404)
    try:
        state = take_state(platform, request.args.get("state"))
    except OAuthStateError as exc:
        audit.record(
            "oauth.state_rejected",
            agency_id=exc.state.agency_id if exc.state else None,
            subject=(
                ("access_request", exc.state.subject_id)
                if exc.state and exc.state.purpose == "client"
                else None
            ),
            details={"platform": platform, "reason": exc.reason},
        )
        db.session.commit()
        rejected = _REJECTION_HANDLERS.get(exc.state.purpose) if exc.state else None
        if rejected is not None and exc.in_this_browser:
            return rejected(connector, exc.state, exc.reason)
        detail = (
            REJECTION_MESSAGES[exc.reason]()
            + " "
            + _("Go back to the page you started from and press the button to connect again.")
        )
        page = render_template(
            "errors/error.html", code=400, title=_("This sign-in cannot be used"), detail=detail
        )
        return page, 400
    handler = _HANDLERS.get(state.purpose)
    if handler is None:  # an area that is not installed
        abort(404)
    code = request.args.get("code") or None
    error = request.args.get("error") or None
    if code is None and error is None:
        error = "missing_code"
    return handler(connector, state, code, error)


@bp.after_request
def _no_referrer(response: Response) -> Response:
    # The callback carries the authorization code in its URL.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def init_app(app: Flask) -> None:
    """Let the Connect buttons (plain form posts) redirect to the platforms'
    sign-in pages: CSP form-action also applies to a form's redirects."""
    own = urlsplit(app.config["LATCHKEY_BASE_URL"])
    origins = list(app.config.get("CSP_FORM_ACTION_EXTRA", ()))
    for urls in app.extensions.get("latchkey_platform_urls", {}).values():
        parts = urlsplit(urls.get("authorize", ""))
        if not parts.scheme or (parts.scheme, parts.netloc) == (own.scheme, own.netloc):
            continue
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in origins:
            origins.append(origin)
    app.config["CSP_FORM_ACTION_EXTRA"] = tuple(origins)


__all__ = [
    "CLIENT_TOKEN_TTL",
    "STATE_TTL",
    "OAuthState",
    "OAuthStateError",
    "authorization_url",
    "bp",
    "client_token",
    "discard_client_token",
    "exchange_code",
    "init_app",
    "keep_client_token",
    "on_callback",
    "on_rejected",
    "redirect_uri",
    "refresh",
    "take_state",
]
