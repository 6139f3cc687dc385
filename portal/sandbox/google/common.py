"""What the emulated Google APIs share: errors, authentication, rate limits.

Every Google API answers errors as
`{"error": {"code", "message", "status", "details": [...]}}`; `details`
carries an `ErrorInfo` (`reason`, `domain`, `metadata`) for authentication
and scope problems, and Google Ads adds a `GoogleAdsFailure` naming the exact
error code. `api_route` registers a view on `/sandbox/google/<host><path>`
that checks the bearer token and the scope the real endpoint needs, counts
the call against the "Rate limited" persona's budget, and is exempt from
CSRF (API clients send bearer tokens, not cookies).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import request

from ...extensions import csrf, db
from .. import core
from ..core import bp
from . import world as w

STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}

# ErrorInfo reasons (google.api.ErrorReason) for a missing, unknown or expired token.
TOKEN_REASONS = {
    "missing": "CREDENTIALS_MISSING",
    "invalid": "ACCESS_TOKEN_TYPE_UNSUPPORTED",
    "expired": "ACCESS_TOKEN_EXPIRED",
}


def error(
    code: int,
    message: str,
    *,
    status: str | None = None,
    reason: str | None = None,
    domain: str = "googleapis.com",
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> core.SandboxAPIError:
    """An error in Google's shape."""
    body: dict[str, Any] = {
        "code": code,
        "message": message,
        "status": status or STATUS_NAMES.get(code, "UNKNOWN"),
    }
    extra = list(details or [])
    if reason:
        extra.insert(
            0,
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": reason,
                "domain": domain,
            },
        )
    if extra:
        body["details"] = extra
    return core.SandboxAPIError(code, {"error": body}, headers)


def permission_denied(message: str = "The caller does not have permission") -> core.SandboxAPIError:
    return error(403, message)


def not_found(message: str = "Requested entity was not found.") -> core.SandboxAPIError:
    return error(404, message)


def bad_request(message: str) -> core.SandboxAPIError:
    return error(400, message)


@dataclass
class ApiCall:
    """One authenticated call: the token's world and scopes."""

    token: core.TokenInfo

    def record(self, *, lock: bool = False):
        return core.world(w.PLATFORM, self.token.world_id, lock=lock)

    def world(self) -> dict[str, Any]:
        return copy.deepcopy(self.record().data)

    @property
    def email(self) -> str:
        return self.world()["user"]["email"]

    def fail_mid_grant(self) -> None:
        """The "Fails mid-grant" persona: its first change answers 500, once."""
        if not self.record().data.get("fail_next_grant"):
            return
        record = self.record(lock=True)
        data = copy.deepcopy(record.data)
        if not data.get("fail_next_grant"):
            return  # another request used it meanwhile
        data["fail_next_grant"] = False
        core.set_data(record, data)
        db.session.commit()
        raise error(500, "Internal error encountered.")


def authenticate(scopes: tuple[str, ...]) -> ApiCall:
    """The bearer token's call, or Google's 401/403; rate limits counted."""
    try:
        info = core.authenticate(w.PLATFORM, request.headers.get("Authorization"))
    except core.TokenProblem as problem:
        raise error(
            401,
            "Request had invalid authentication credentials. Expected OAuth 2 access token, "
            "login cookie or other valid authentication credential.",
            reason=TOKEN_REASONS[problem.reason],
            headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
        ) from None
    if scopes and not any(s in info.scopes for s in scopes):
        raise error(
            403,
            "Request had insufficient authentication scopes.",
            reason="ACCESS_TOKEN_SCOPE_INSUFFICIENT",
            headers={"WWW-Authenticate": f'Bearer error="insufficient_scope" scope="{scopes[0]}"'},
        )
    _charge_rate_limit(info.world_id)
    return ApiCall(info)


def _charge_rate_limit(world_id: str) -> None:
    if not core.world(w.PLATFORM, world_id).data.get("rate_limit"):
        return
    record = core.world(w.PLATFORM, world_id, lock=True)
    data = copy.deepcopy(record.data)
    wait = core.spend_call(data)
    core.set_data(record, data)
    db.session.commit()
    if wait is not None:
        raise error(
            429,
            "Quota exceeded for quota metric 'Requests' and limit 'Requests per minute per user'.",
            reason="RATE_LIMIT_EXCEEDED",
            headers={"Retry-After": str(wait)},
        )


def api_route(
    rule: str,
    methods: tuple[str, ...] = ("GET",),
    scopes: tuple[str, ...] = (),
):
    """Register an emulated Google API view under `/sandbox/google` (rule starts with the host)."""

    def decorate(fn: Callable[..., Any]):
        @wraps(fn)
        def view(**kwargs: Any):
            return fn(authenticate(scopes), **kwargs)

        csrf.exempt(view)
        bp.add_url_rule(
            "/google/" + rule.lstrip("/"),
            endpoint=f"google_{fn.__name__}",
            view_func=view,
            methods=list(methods),
        )
        return view

    return decorate


def json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise bad_request("Invalid JSON payload received. The request body must be a JSON object.")
    return body


def page(items: list[Any], key: str, default_size: int = 50) -> dict[str, Any]:
    """One page of `items` under `key`, with Google's `pageSize`/`pageToken`."""
    try:
        size = int(request.args.get("pageSize") or default_size)
        offset = int(request.args.get("pageToken") or 0)
    except ValueError:
        raise bad_request("Invalid pageSize or pageToken.") from None
    size = max(1, min(size, 200))
    body: dict[str, Any] = {}
    chunk = items[offset : offset + size]
    if chunk:
        body[key] = chunk
    if offset + size < len(items):
        body["nextPageToken"] = str(offset + size)
    return body


def owner_world(kind: str, resource_id: str) -> tuple[str, dict[str, Any]] | None:
    """(world id, world data) of the world that owns a resource, or None."""
    entry = core.get_record(w.PLATFORM, kind, str(resource_id))
    if entry is None:
        return None
    return entry.data["world_id"], core.world_data(w.PLATFORM, entry.data["world_id"])


def register_not_found(base: str) -> None:
    """Google's 404 for any other path under an emulated host's base."""

    def missing(rest: str):
        raise not_found(f"The requested URL /{rest} was not found on this server.")

    endpoint = "google_not_found_" + base.replace(".", "_").replace("/", "_")
    missing.__name__ = endpoint
    csrf.exempt(missing)
    bp.add_url_rule(
        f"/google/{base}/<path:rest>",
        endpoint=endpoint,
        view_func=missing,
        methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
    )


__all__ = [
    "ApiCall",
    "api_route",
    "authenticate",
    "bad_request",
    "error",
    "json_body",
    "not_found",
    "owner_world",
    "page",
    "permission_denied",
    "register_not_found",
]
