"""What every emulated platform shares: state, personas, OAuth and tokens.

A platform module (see `portal.sandbox.pinterest`) registers a
`SandboxPlatform` (how to build a persona's world, what its scopes mean) and
serves the platform's real paths under `/sandbox/<platform>/<host><path>`,
using the building blocks here:

- worlds: each consent (or `create_world`) makes a fresh, isolated world for
  the chosen persona, stored as `SandboxRecord`s, so runs never interfere;
- the consent page and decision (`authorize_request`, `consent_page`,
  `consent_decision`), with `client_id` and `redirect_uri` checked before
  anything is shown and PKCE (S256) remembered with the code;
- codes and tokens (`exchange_code`, `refresh_tokens`, `authenticate`): codes
  live 10 minutes and work once, tokens expire, only their SHA-256 is stored;
- rate limiting for the "Rate limited" persona (`spend_call`).

Test and demo helpers: `sandbox_token()` gives a token for a new persona
world without HTTP, `expire_token()` makes a token answer 401,
`world_data()` / `update_world()` read and change a world.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import math
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy import delete, select
from sqlalchemy.orm.attributes import flag_modified

from ..config import production_smoke_test
from ..extensions import db
from ..models.base import utcnow
from .models import SandboxRecord

bp = Blueprint("sandbox", __name__, url_prefix="/sandbox")


# ------------------------------------------------------------ never in production


class SandboxRefused(RuntimeError):
    """The emulated platforms were asked to run where they must not."""


def refuse_in_production(config: Mapping[str, Any]) -> None:
    # The one exception is the CI smoke test on a loopback base URL (portal/config.py).
    if config.get("LATCHKEY_ENV") == "production" and not production_smoke_test(config):
        raise SandboxRefused(
            "The sandbox (emulated platforms) cannot be registered with LATCHKEY_ENV=production; "
            "unset LATCHKEY_SANDBOX."
        )


@bp.record
def _refuse_registration_in_production(state) -> None:
    refuse_in_production(state.app.config)


@bp.before_request
def _serve_only_outside_production():
    # Belt and braces: settings changed after registration still close the sandbox.
    config = current_app.config
    if not config.get("LATCHKEY_SANDBOX"):
        abort(404)
    if config.get("LATCHKEY_ENV") == "production" and not production_smoke_test(config):
        abort(404)


# ------------------------------------------------------------------ API errors


class SandboxAPIError(Exception):
    """An error answer in the emulated platform's own JSON shape."""

    def __init__(
        self, status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ):
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = dict(body)
        self.headers = dict(headers or {})


class OAuthError(SandboxAPIError):
    """An RFC 6749 error from a token endpoint."""

    def __init__(self, error: str, description: str, status: int = 400):
        headers = {"Cache-Control": "no-store"}
        if error == "invalid_client":
            headers["WWW-Authenticate"] = 'Basic realm="sandbox"'
        super().__init__(status, {"error": error, "error_description": description}, headers)
        self.error = error


@bp.errorhandler(SandboxAPIError)
def _api_error(error: SandboxAPIError):
    response = jsonify(error.body)
    response.status_code = error.status
    for name, value in error.headers.items():
        response.headers[name] = value
    return response


# -------------------------------------------------------------------- personas


@dataclass(frozen=True)
class Persona:
    id: str
    # Shown exactly like this on every consent page: the contract, scripts and
    # browser tests pick personas by these names, so they are not translated.
    name: str


PERSONAS: tuple[Persona, ...] = (
    Persona("business", "Business account"),
    Persona("personal", "Personal account"),
    Persona("not_admin", "No admin rights"),
    Persona("two_factor_off", "Two-factor authentication off"),
    Persona("rate_limited", "Rate limited"),
    Persona("fails_mid_grant", "Fails mid-grant"),
)
DEFAULT_PERSONA = "business"
PERSONA_IDS = frozenset(p.id for p in PERSONAS)


def persona(persona_id: str) -> Persona:
    for candidate in PERSONAS:
        if candidate.id == persona_id:
            return candidate
    raise KeyError(persona_id)


# -------------------------------------------------------------------- platforms


@dataclass(frozen=True)
class SandboxPlatform:
    """One emulated platform, as the shared machinery needs to know it."""

    id: str  # the connector id, e.g. "pinterest"
    name: str
    # Scope id -> what it lets the app do, in words (shown on the consent page).
    scope_labels: Mapping[str, Any]
    # Persona id -> what that persona's world holds on this platform.
    persona_descriptions: Mapping[str, Any]
    # (persona id, options) -> the world's platform-shaped data.
    build_world: Callable[[str, Mapping[str, Any]], dict[str, Any]]
    # (world id, world data) -> index records (kind, key, data) to store with it.
    index_world: Callable[[str, Mapping[str, Any]], Iterable[tuple[str, str, dict[str, Any]]]]
    # World data -> the identity an agency connection keeps, e.g. {"business_id", "name"}.
    agency_identity: Callable[[Mapping[str, Any]], dict[str, Any]]
    # Blueprint endpoint of the consent page (the form posts back to it).
    authorize_endpoint: str
    scope_separator: str = " "
    access_token_prefix: str = "sbx_at_"  # noqa: S105 (a prefix, not a secret)
    refresh_token_prefix: str = "sbx_rt_"  # noqa: S105
    access_token_ttl: int = 30 * 24 * 3600
    refresh_token_ttl: int = 60 * 24 * 3600


_PLATFORMS: dict[str, SandboxPlatform] = {}


def register_platform(platform: SandboxPlatform) -> SandboxPlatform:
    _PLATFORMS[platform.id] = platform
    return platform


def platform(platform_id: str) -> SandboxPlatform:
    return _PLATFORMS[platform_id]


def platforms() -> list[SandboxPlatform]:
    return list(_PLATFORMS.values())


# --------------------------------------------------------------------- records


def get_record(
    platform_id: str, kind: str, key: str, *, lock: bool = False
) -> SandboxRecord | None:
    """One record, read afresh from the database (another process may have changed it)."""
    stmt = (
        select(SandboxRecord)
        .where(
            SandboxRecord.platform == platform_id,
            SandboxRecord.kind == kind,
            SandboxRecord.key == key,
        )
        .execution_options(populate_existing=True)
    )
    if lock:
        stmt = stmt.with_for_update()
    return db.session.execute(stmt).scalar_one_or_none()


def records_where_key(
    platform_id: str, kind: str, *, prefix: str | None = None, suffix: str | None = None
) -> list[SandboxRecord]:
    stmt = select(SandboxRecord).where(
        SandboxRecord.platform == platform_id, SandboxRecord.kind == kind
    )
    if prefix is not None:
        stmt = stmt.where(SandboxRecord.key.startswith(prefix, autoescape=True))
    if suffix is not None:
        stmt = stmt.where(SandboxRecord.key.endswith(suffix, autoescape=True))
    stmt = stmt.order_by(SandboxRecord.id).execution_options(populate_existing=True)
    return list(db.session.execute(stmt).scalars())


def put_record(
    platform_id: str,
    kind: str,
    key: str,
    data: Mapping[str, Any],
    *,
    expires_at=None,
) -> SandboxRecord:
    record = SandboxRecord(
        platform=platform_id, kind=kind, key=key, data=dict(data), expires_at=expires_at
    )
    db.session.add(record)
    db.session.flush()
    return record


def set_data(record: SandboxRecord, data: Mapping[str, Any]) -> None:
    """Replace a record's JSON (assigning a new object so the change is saved)."""
    record.data = copy.deepcopy(dict(data))
    flag_modified(record, "data")


def delete_records(platform_id: str, kind: str, keys: Iterable[str]) -> None:
    keys = list(keys)
    if not keys:
        return
    db.session.execute(
        delete(SandboxRecord).where(
            SandboxRecord.platform == platform_id,
            SandboxRecord.kind == kind,
            SandboxRecord.key.in_(keys),
        )
    )


def purge_expired(grace: timedelta = timedelta(days=1)) -> None:
    """Forget codes and tokens that expired more than `grace` ago."""
    db.session.execute(
        delete(SandboxRecord).where(
            SandboxRecord.expires_at.is_not(None), SandboxRecord.expires_at < utcnow() - grace
        )
    )


def new_id(digits: int) -> str:
    """A random numeric id of `digits` digits, like most platforms' ids."""
    return str(10 ** (digits - 1) + secrets.randbelow(9 * 10 ** (digits - 1)))


# ---------------------------------------------------------------------- worlds


def create_world(platform_id: str, persona_id: str = DEFAULT_PERSONA, **options: Any) -> str:
    """Make a fresh world for a persona (in the caller's transaction); its id."""
    emulated = platform(platform_id)
    if persona_id not in PERSONA_IDS:
        raise KeyError(persona_id)
    world_id = uuid.uuid4().hex
    data = emulated.build_world(persona_id, options)
    data["persona"] = persona_id
    data["world_id"] = world_id
    put_record(platform_id, "world", world_id, data)
    for kind, key, entry in emulated.index_world(world_id, data):
        put_record(platform_id, kind, key, {"world_id": world_id, **entry})
    return world_id


def world(platform_id: str, world_id: str, *, lock: bool = False) -> SandboxRecord:
    record = get_record(platform_id, "world", world_id, lock=lock)
    if record is None:
        raise LookupError(f"no {platform_id} sandbox world {world_id}")
    return record


def world_data(platform_id: str, world_id: str) -> dict[str, Any]:
    """A copy of a world's data, read afresh."""
    return copy.deepcopy(world(platform_id, world_id).data)


def update_world(
    platform_id: str, world_id: str, change: Callable[[dict[str, Any]], None]
) -> dict[str, Any]:
    """Apply `change` to a world's data under a row lock and commit; the new data."""
    record = world(platform_id, world_id, lock=True)
    data = copy.deepcopy(record.data)
    change(data)
    set_data(record, data)
    db.session.commit()
    return data


# ---------------------------------------------------------------- rate limits

RATE_LIMIT_BUDGET = 3
RATE_LIMIT_RETRY_AFTER = 2


def rate_limit_state(
    budget: int = RATE_LIMIT_BUDGET, retry_after: int = RATE_LIMIT_RETRY_AFTER
) -> dict[str, Any]:
    """The "Rate limited" persona: `budget` calls succeed, then every call answers
    429 with Retry-After for `retry_after` seconds, then `budget` calls succeed
    again. A flow that waits as told always gets through, a few calls at a time."""
    return {"budget": budget, "remaining": budget, "retry_after": retry_after, "blocked_until": 0}


def spend_call(world_state: dict[str, Any], now: float | None = None) -> int | None:
    """Count one API call; the seconds to wait if it is refused, else None."""
    limit = world_state.get("rate_limit")
    if not limit:
        return None
    now = time.time() if now is None else now
    if now < limit["blocked_until"]:
        return max(1, math.ceil(limit["blocked_until"] - now))
    if limit["blocked_until"]:
        limit["blocked_until"] = 0
        limit["remaining"] = limit["budget"]
    if limit["remaining"] > 0:
        limit["remaining"] -= 1
        return None
    limit["blocked_until"] = now + limit["retry_after"]
    return int(limit["retry_after"])


# ---------------------------------------------------------------------- tokens


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class TokenInfo:
    platform: str
    world_id: str
    scopes: tuple[str, ...]
    client_id: str


class TokenProblem(Exception):
    """A bearer token that cannot be used: `reason` is missing, invalid or expired."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def issue_tokens(
    platform_id: str,
    world_id: str,
    scopes: Iterable[str],
    client_id: str,
    *,
    with_refresh: bool = True,
) -> dict[str, Any]:
    """Store a new access (and refresh) token for a world; the token response body."""
    emulated = platform(platform_id)
    scopes = tuple(scopes)
    now = utcnow()
    access = emulated.access_token_prefix + secrets.token_urlsafe(32)
    data = {"world_id": world_id, "scopes": list(scopes), "client_id": client_id}
    put_record(
        platform_id,
        "access_token",
        token_hash(access),
        data,
        expires_at=now + timedelta(seconds=emulated.access_token_ttl),
    )
    body: dict[str, Any] = {
        "access_token": access,
        "token_type": "bearer",
        "expires_in": emulated.access_token_ttl,
        "scope": emulated.scope_separator.join(scopes),
    }
    if with_refresh:
        refresh = emulated.refresh_token_prefix + secrets.token_urlsafe(32)
        put_record(
            platform_id,
            "refresh_token",
            token_hash(refresh),
            data,
            expires_at=now + timedelta(seconds=emulated.refresh_token_ttl),
        )
        body["refresh_token"] = refresh
        body["refresh_token_expires_in"] = emulated.refresh_token_ttl
    return body


def authenticate(platform_id: str, authorization: str | None) -> TokenInfo:
    """The token behind an `Authorization: Bearer` header, or TokenProblem."""
    if not authorization or not authorization.lower().startswith("bearer "):
        raise TokenProblem("missing")
    secret = authorization[7:].strip()
    record = get_record(platform_id, "access_token", token_hash(secret)) if secret else None
    if record is None:
        raise TokenProblem("invalid")
    if record.expires_at is not None and record.expires_at <= utcnow():
        raise TokenProblem("expired")
    data = record.data
    return TokenInfo(platform_id, data["world_id"], tuple(data["scopes"]), data["client_id"])


def expire_token(access_token: str) -> None:
    """Make an access token expired now (tests and demos of the 401 path)."""
    record = db.session.execute(
        select(SandboxRecord).where(
            SandboxRecord.kind == "access_token", SandboxRecord.key == token_hash(access_token)
        )
    ).scalar_one_or_none()
    if record is None:
        raise LookupError("no such sandbox access token")
    record.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()


def refresh_tokens(
    platform_id: str, refresh_token: str, client_id: str, *, rotate: bool
) -> dict[str, Any]:
    """A new access token for a refresh token; with `rotate`, a new refresh token
    too and the old one stops working. Commits."""
    record = get_record(platform_id, "refresh_token", token_hash(refresh_token), lock=True)
    if record is None:
        raise OAuthError("invalid_grant", "The refresh token is unknown or was revoked.")
    if record.expires_at is not None and record.expires_at <= utcnow():
        raise OAuthError("invalid_grant", "The refresh token has expired; sign in again.")
    data = record.data
    if not hmac.compare_digest(data["client_id"], client_id):
        raise OAuthError("invalid_grant", "The refresh token was issued to another client.")
    body = issue_tokens(
        platform_id, data["world_id"], data["scopes"], client_id, with_refresh=rotate
    )
    if rotate:
        db.session.delete(record)
    db.session.commit()
    return body


def sandbox_token(
    platform_id: str,
    persona_id: str = DEFAULT_PERSONA,
    *,
    scopes: Iterable[str] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """A token for a fresh persona world, without HTTP (tests, demo, CLI).

    Returns the token as an OAuth client keeps it (`access_token`,
    `refresh_token`, `expires_at`, ...) plus `sandbox_world_id`. Commits.
    """
    from ..platforms import credentials
    from ..platforms import get as connector

    if scopes is None:
        scopes = connector(platform_id).oauth_endpoints().scopes
    world_id = create_world(platform_id, persona_id, **options)
    token = issue_tokens(platform_id, world_id, scopes, credentials(platform_id)["client_id"])
    db.session.commit()
    token["expires_at"] = int(time.time()) + int(token["expires_in"])
    token["sandbox_world_id"] = world_id
    return token


# ----------------------------------------------------------------------- PKCE

CODE_TTL = 600
# The OAuth app every emulated platform knows: this Latchkey server.
APP_NAME = "Latchkey"
_PKCE_CHARS = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def pkce_matches(challenge: str, verifier: str | None) -> bool:
    if not verifier or not _PKCE_CHARS.match(verifier):
        return False
    return hmac.compare_digest(s256(verifier), challenge)


# ------------------------------------------------------------------- clients


def client_is_known(platform_id: str, client_id: str | None) -> bool:
    from ..platforms import credentials

    expected = credentials(platform_id)["client_id"]
    return bool(client_id) and hmac.compare_digest(client_id, expected)


def client_from_basic_auth(platform_id: str, authorization) -> str:
    """The client id from HTTP Basic credentials at a token endpoint, or invalid_client."""
    from ..platforms import credentials

    if authorization is None or authorization.type != "basic":
        raise OAuthError(
            "invalid_client", "Authenticate the client with HTTP Basic (client_secret_basic).", 401
        )
    expected = credentials(platform_id)
    id_ok = hmac.compare_digest(authorization.username or "", expected["client_id"])
    secret_ok = hmac.compare_digest(authorization.password or "", expected["client_secret"])
    if not (id_ok and secret_ok):
        raise OAuthError("invalid_client", "Unknown client or wrong client secret.", 401)
    return expected["client_id"]


def redirect_uri_allowed(uri: str | None) -> bool:
    """Only addresses of this Latchkey server (its LATCHKEY_BASE_URL) may receive codes."""
    if not uri:
        return False
    base = urlsplit(current_app.config["LATCHKEY_BASE_URL"])
    target = urlsplit(uri)
    if (target.scheme, target.netloc) != (base.scheme, base.netloc) or target.fragment:
        return False
    base_path = base.path.rstrip("/")
    return target.path == base_path or target.path.startswith(base_path + "/")


# ----------------------------------------------------------------- authorize


@dataclass(frozen=True)
class AuthorizeRequest:
    response_type: str
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str
    code_challenge: str
    code_challenge_method: str

    def hidden_fields(self, separator: str) -> dict[str, str]:
        """The request, as the consent form carries it back."""
        return {
            "response_type": self.response_type,
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": separator.join(self.scopes),
            "state": self.state,
            "code_challenge": self.code_challenge,
            "code_challenge_method": self.code_challenge_method,
        }


class ConsentRefused(Exception):
    """The request cannot be trusted enough to redirect back: show a page instead."""


class ConsentRedirectError(Exception):
    """An error to send back to the (verified) redirect URI."""

    def __init__(self, error: str, description: str):
        super().__init__(description)
        self.error = error
        self.description = description


def authorize_request(emulated: SandboxPlatform, values: Mapping[str, str]) -> AuthorizeRequest:
    """Read the standard OAuth 2.0 authorize parameters (query or consent form)."""
    scope = (values.get("scope") or "").strip()
    return AuthorizeRequest(
        response_type=values.get("response_type") or "",
        client_id=values.get("client_id") or "",
        redirect_uri=values.get("redirect_uri") or "",
        scopes=tuple(s for s in scope.split(emulated.scope_separator) if s) if scope else (),
        state=values.get("state") or "",
        code_challenge=values.get("code_challenge") or "",
        code_challenge_method=values.get("code_challenge_method") or "",
    )


def validate_authorize(emulated: SandboxPlatform, req: AuthorizeRequest) -> None:
    if not client_is_known(emulated.id, req.client_id):
        raise ConsentRefused(
            _(
                "This app is not registered with the %(platform)s sandbox (unknown client_id).",
                platform=emulated.name,
            )
        )
    if not redirect_uri_allowed(req.redirect_uri):
        raise ConsentRefused(
            _(
                "The app asked to send you back to an address that is not registered "
                "(redirect_uri must be on this Latchkey server)."
            )
        )
    if req.response_type != "code":
        raise ConsentRedirectError(
            "unsupported_response_type", "Only response_type=code is supported."
        )
    if not req.scopes:
        raise ConsentRedirectError("invalid_scope", "No scope was requested.")
    unknown = [s for s in req.scopes if s not in emulated.scope_labels]
    if unknown:
        raise ConsentRedirectError("invalid_scope", f"Unknown scope: {', '.join(unknown)}.")
    if req.code_challenge or req.code_challenge_method:
        if req.code_challenge_method != "S256":
            raise ConsentRedirectError("invalid_request", "code_challenge_method must be S256.")
        if not _PKCE_CHARS.match(req.code_challenge):
            raise ConsentRedirectError("invalid_request", "code_challenge is malformed.")


def with_params(uri: str, params: Mapping[str, str]) -> str:
    """`uri` with `params` added to its query string."""
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query.extend((k, v) for k, v in params.items() if v)
    return urlunsplit(parts._replace(query=urlencode(query)))


def redirect_error(req: AuthorizeRequest, error: str, description: str) -> Response:
    return redirect(
        with_params(
            req.redirect_uri,
            {"error": error, "error_description": description, "state": req.state},
        ),
        code=302,
    )


def refusal_page(emulated: SandboxPlatform, message: str) -> tuple[str, int]:
    return render_template("sandbox/error.html", platform=emulated, message=message), 400


def consent_page(
    emulated: SandboxPlatform,
    req: AuthorizeRequest,
    *,
    action: str,
    selected: str = DEFAULT_PERSONA,
    error: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    personas = [
        {
            "id": p.id,
            "name": p.name,
            "description": emulated.persona_descriptions.get(p.id, ""),
        }
        for p in PERSONAS
    ]
    page = render_template(
        "sandbox/consent.html",
        platform=emulated,
        app_name=APP_NAME,
        scope_labels=[emulated.scope_labels[s] for s in req.scopes],
        personas=personas,
        selected=selected,
        hidden=req.hidden_fields(emulated.scope_separator),
        action=action,
        error=error,
    )
    return page, status


def authorize_view(
    platform_id: str,
    action_endpoint: str,
    parse: Callable[[Mapping[str, str]], AuthorizeRequest] | None = None,
):
    """The authorization endpoint every emulated platform serves on its own path.

    GET shows the consent page (persona choice, Allow/Deny) once `client_id`
    and `redirect_uri` check out; POST carries the person's decision back to
    the client. `parse` reads a platform's own parameter names (TikTok's).
    """
    emulated = platform(platform_id)
    values = request.form if request.method == "POST" else request.args
    req = parse(values) if parse else authorize_request(emulated, values)
    action = url_for(action_endpoint)
    try:
        validate_authorize(emulated, req)
    except ConsentRefused as refused:
        return refusal_page(emulated, str(refused))
    except ConsentRedirectError as problem:
        return redirect_error(req, problem.error, problem.description)
    if request.method == "GET":
        return consent_page(emulated, req, action=action)
    return consent_decision(
        emulated,
        req,
        request.form.get("decision", ""),
        request.form.get("persona", ""),
        action=action,
    )


def issue_code(emulated: SandboxPlatform, world_id: str, req: AuthorizeRequest) -> str:
    code = secrets.token_urlsafe(32)
    put_record(
        emulated.id,
        "code",
        token_hash(code),
        {
            "world_id": world_id,
            "client_id": req.client_id,
            "redirect_uri": req.redirect_uri,
            "scopes": list(req.scopes),
            "code_challenge": req.code_challenge,
            "code_challenge_method": req.code_challenge_method,
            "used": False,
        },
        expires_at=utcnow() + timedelta(seconds=CODE_TTL),
    )
    return code


def consent_decision(
    emulated: SandboxPlatform, req: AuthorizeRequest, decision: str, persona_id: str, *, action: str
):
    """Allow: a fresh world for the persona and a code; Deny: access_denied."""
    if decision == "deny":
        return redirect_error(req, "access_denied", "The person denied access.")
    if decision != "allow" or persona_id not in PERSONA_IDS:
        return consent_page(
            emulated,
            req,
            action=action,
            selected=persona_id if persona_id in PERSONA_IDS else DEFAULT_PERSONA,
            error=_("Choose a persona, then press Allow or Deny."),
            status=400,
        )
    purge_expired()
    world_id = _same_person(emulated.id, persona_id) or create_world(emulated.id, persona_id)
    _remember(emulated.id, persona_id, world_id)
    code = issue_code(emulated, world_id, req)
    db.session.commit()
    return redirect(with_params(req.redirect_uri, {"code": code, "state": req.state}), code=302)


SESSION_WORLDS = "sandbox_worlds"


def _same_person(platform_id: str, persona_id: str) -> str | None:
    """Signing in again in this browser as the same persona is the same account,
    as on the real platform (so a retry after a failure reaches the same assets)."""
    world_id = (session.get(SESSION_WORLDS) or {}).get(f"{platform_id}:{persona_id}")
    if world_id and get_record(platform_id, "world", world_id) is not None:
        return world_id
    return None


def _remember(platform_id: str, persona_id: str, world_id: str) -> None:
    worlds = dict(session.get(SESSION_WORLDS) or {})
    worlds[f"{platform_id}:{persona_id}"] = world_id
    session[SESSION_WORLDS] = worlds


# ------------------------------------------------------------- code exchange


def exchange_code(
    platform_id: str,
    code: str | None,
    *,
    client_id: str,
    redirect_uri: str | None,
    code_verifier: str | None,
) -> dict[str, Any]:
    """Tokens for an authorization code. A code works once: a second use fails
    and revokes the tokens the first use gave (RFC 6749 §4.1.2). Commits."""
    record = get_record(platform_id, "code", token_hash(code), lock=True) if code else None
    if record is None:
        raise OAuthError("invalid_grant", "The authorization code is unknown.")
    data = dict(record.data)
    if data.get("used"):
        for kind, key in data.get("issued", []):
            delete_records(platform_id, kind, [key])
        set_data(record, {**data, "issued": []})
        db.session.commit()
        raise OAuthError(
            "invalid_grant", "The authorization code was already used; its tokens are revoked."
        )
    data["used"] = True
    set_data(record, data)

    def refuse(description: str) -> OAuthError:
        db.session.commit()  # the code stays used: one try only
        return OAuthError("invalid_grant", description)

    if record.expires_at is not None and record.expires_at <= utcnow():
        raise refuse("The authorization code has expired (codes live 10 minutes).")
    if not hmac.compare_digest(data["client_id"], client_id):
        raise refuse("The authorization code was issued to another client.")
    if (redirect_uri or "") != data["redirect_uri"]:
        raise refuse("redirect_uri does not match the one used to get the code.")
    if data["code_challenge"]:
        if not code_verifier:
            raise refuse("code_verifier is required (PKCE).")
        if not pkce_matches(data["code_challenge"], code_verifier):
            raise refuse("code_verifier does not match the code_challenge (PKCE).")
    body = issue_tokens(platform_id, data["world_id"], data["scopes"], client_id)
    data["issued"] = [
        ["access_token", token_hash(body["access_token"])],
        ["refresh_token", token_hash(body["refresh_token"])],
    ]
    set_data(record, data)
    db.session.commit()
    return body


def token_response(body: Mapping[str, Any]):
    response = jsonify(dict(body))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response
