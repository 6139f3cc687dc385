"""The emulated LinkedIn Marketing API (versioned `/rest`), on the real paths and shapes.

Served at `/sandbox/linkedin/api.linkedin.com/rest/...`. Every call needs
`Authorization: Bearer <token>` with the scope the real endpoint needs and a
`LinkedIn-Version: YYYYMM` header, like LinkedIn's versioned APIs. Compound
keys are Rest.li 2.0 tuples with URL-encoded URNs, e.g.
`/adAccountUsers/(account:urn%3Ali%3AsponsoredAccount%3A1,user:urn%3Ali%3Aperson%3Aab)`.
Collections answer `{"elements": [...], "paging": {"start", "count", "total"}}`;
errors answer `{"status", "serviceErrorCode", "code", "message"}`. The member's
own profile is the unversioned `/sandbox/linkedin/api.linkedin.com/v2/me`.

The paths, bodies and answers follow LinkedIn's documentation pages, as
transcribed in tests/platform_specs/linkedin/operations.json.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import Response, jsonify, request

from ...extensions import csrf, db
from .. import core
from ..core import bp
from . import world as w

API = "/linkedin/api.linkedin.com/rest"
# The unversioned v2 API: only the member's own profile (GET /v2/me) is used.
V2 = "/linkedin/api.linkedin.com/v2"
DEFAULT_COUNT = 10
MAX_COUNT = 100
# The oldest version the sandbox still answers (LinkedIn sunsets versions after a year).
OLDEST_VERSION = "202401"
_VERSION = re.compile(r"^(\d{6})(?:\.\d{2})?$")


def error(status: int, code: str, message: str, service_code: int = 0, headers=None):
    body = {"status": status, "serviceErrorCode": service_code, "code": code, "message": message}
    return core.SandboxAPIError(status, body, headers)


@dataclass
class ApiCall:
    """One authenticated call: the token's world, its member and scopes."""

    token: core.TokenInfo

    def record(self, *, lock: bool = False):
        return core.world(w.PLATFORM, self.token.world_id, lock=lock)

    def world(self) -> dict[str, Any]:
        return copy.deepcopy(self.record().data)

    @property
    def person(self) -> str:
        return self.record().data["member"]["id"]


def _check_version() -> None:
    version = request.headers.get("LinkedIn-Version")
    if not version:
        raise error(
            400,
            "VERSION_MISSING",
            "A version must be present. Please specify a version by adding the "
            "LinkedIn-Version header.",
        )
    match = _VERSION.match(version)
    if not match or match.group(1) < OLDEST_VERSION:
        raise error(426, "NONEXISTENT_VERSION", f"Requested version {version} is not active")


def _authenticate(scopes: Iterable[str], *, versioned: bool = True) -> ApiCall:
    if versioned:
        _check_version()
    try:
        info = core.authenticate(w.PLATFORM, request.headers.get("Authorization"))
    except core.TokenProblem as problem:
        code, service_code, message = {
            "missing": ("EMPTY_ACCESS_TOKEN", 65604, "Empty oauth2 access token"),
            "invalid": ("INVALID_ACCESS_TOKEN", 65600, "Invalid access token"),
            "expired": (
                "EXPIRED_ACCESS_TOKEN",
                65601,
                "The token used in the request has expired",
            ),
        }[problem.reason]
        raise error(401, code, message, service_code) from None
    scopes = tuple(scopes)
    if scopes and not any(s in info.scopes for s in scopes):
        raise error(
            403,
            "ACCESS_DENIED",
            f"Not enough permissions to access: {request.path.rsplit('/rest/', 1)[-1]} "
            f"(needs scope {' or '.join(scopes)})",
            100,
        )
    _charge_rate_limit(info.world_id)
    return ApiCall(info)


def _charge_rate_limit(world_id: str) -> None:
    """LinkedIn throttles per member, application and resource: each resource
    (adAccountUsers, organizationAcls, ...) has its own budget."""
    if not core.world(w.PLATFORM, world_id).data.get("rate_limit"):
        return
    record = core.world(w.PLATFORM, world_id, lock=True)
    data = copy.deepcopy(record.data)
    resource = request.path.split("/rest/", 1)[-1].split("/", 1)[0]
    budgets = data.setdefault("rate_limits", {})
    state = {"rate_limit": budgets.get(resource) or copy.deepcopy(data["rate_limit"])}
    wait = core.spend_call(state)
    budgets[resource] = state["rate_limit"]
    core.set_data(record, data)
    db.session.commit()
    if wait is not None:
        # *Sandbox assumption*: LinkedIn's 429 does not promise a Retry-After
        # header; the sandbox sends one so that waiting as told is exercised.
        raise error(
            429,
            "TOO_MANY_REQUESTS",
            "Resource level throttle limit for calls to this resource is reached.",
            101,
            {"Retry-After": str(wait)},
        )


def api_route(
    rule: str,
    methods: tuple[str, ...] = ("GET",),
    scopes: Iterable[str] = (),
    *,
    base: str | None = None,
):
    """Register a sandbox API view: versioned (under /rest), authenticated,
    scope-checked, rate-limited and exempt from CSRF (API clients send bearer
    tokens). `base=V2` serves an unversioned v2 resource instead."""
    needed = tuple(scopes)
    versioned = base is None

    def decorate(fn: Callable[..., Any]):
        @wraps(fn)
        def view(**kwargs: Any):
            return fn(_authenticate(needed, versioned=versioned), **kwargs)

        csrf.exempt(view)
        bp.add_url_rule(
            (base or API) + rule,
            endpoint=f"linkedin_{fn.__name__}",
            view_func=view,
            methods=list(methods),
        )
        return view

    return decorate


READ_ADS = ("r_ads", "rw_ads")
WRITE_ADS = ("rw_ads",)
READ_ORGANIZATIONS = ("r_organization_admin", "rw_organization_admin")
WRITE_ORGANIZATIONS = ("rw_organization_admin",)


# -------------------------------------------------------------------- helpers


def _collection(elements: list[Any]) -> dict[str, Any]:
    try:
        start = int(request.args.get("start", 0))
        count = int(request.args.get("count", DEFAULT_COUNT))
    except ValueError:
        raise error(400, "ILLEGAL_ARGUMENT", "start and count must be numbers.") from None
    if start < 0 or not 1 <= count <= MAX_COUNT:
        raise error(400, "ILLEGAL_ARGUMENT", f"start must be >= 0 and count 1 to {MAX_COUNT}.")
    return {
        "elements": elements[start : start + count],
        "paging": {"start": start, "count": count, "total": len(elements), "links": []},
    }


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise error(400, "ILLEGAL_ARGUMENT", "The request body must be a JSON object.")
    return body


def _key(raw: str, fields: tuple[str, ...]) -> dict[str, str]:
    """A Rest.li 2.0 compound key "(a:x,b:y)" (its URNs already URL-decoded)."""
    if not (raw.startswith("(") and raw.endswith(")")):
        raise error(400, "ILLEGAL_ARGUMENT", f"Malformed compound key {raw}.")
    parts = {}
    for part in raw[1:-1].split(","):
        name, _sep, value = part.partition(":")
        parts[name] = value
    if set(parts) != set(fields) or not all(parts.values()):
        raise error(400, "ILLEGAL_ARGUMENT", f"The key must have exactly: {', '.join(fields)}.")
    return parts


def _id_from(urn: str, prefix: str) -> str:
    if not urn.startswith(prefix) or not urn[len(prefix) :]:
        raise error(400, "ILLEGAL_ARGUMENT", f"{urn} is not a {prefix}<id> URN.")
    return urn[len(prefix) :]


def _account_role(account_id: str, person: str) -> str | None:
    entry = core.get_record(w.PLATFORM, "account_user", w.account_user_key(account_id, person))
    return entry.data["role"] if entry else None


def _account_user(account_id: str, person: str, role: str) -> dict[str, Any]:
    return {
        "account": w.ACCOUNT_URN + account_id,
        "user": w.PERSON_URN + person,
        "role": role,
    }


def _require_account(account_id: str) -> None:
    if core.get_record(w.PLATFORM, "ad_account", account_id) is None:
        raise error(404, "NOT_FOUND", f"Ad account {account_id} does not exist.")


def _fail_once(call: ApiCall) -> None:
    """The "Fails mid-grant" persona: the next role change answers 500 once."""
    record = call.record(lock=True)
    if record.data.get("fail_next_grant"):
        data = copy.deepcopy(record.data)
        data["fail_next_grant"] = False
        core.set_data(record, data)
        db.session.commit()
        raise error(500, "INTERNAL_SERVER_ERROR", "Internal Server Error")


def _written(created: bool) -> Response:
    return Response(status=201 if created else 204)


# ----------------------------------------------------------------------- me


@api_route("/me", scopes=("r_basicprofile",), base=V2)
def me(call: ApiCall):
    """GET /v2/me: LinkedIn documents the profile only there (there is no /rest/me)."""
    return jsonify(call.world()["member"])


# -------------------------------------------------------------- ad accounts


@api_route("/adAccounts/<account_id>", scopes=READ_ADS)
def ad_account(call: ApiCall, account_id: str):
    entry = core.get_record(w.PLATFORM, "ad_account", account_id)
    if entry is None:
        raise error(404, "NOT_FOUND", f"Ad account {account_id} does not exist.")
    if _account_role(account_id, call.person) is None:
        raise error(
            403, "ACCESS_DENIED", f"Not enough permissions to access adAccounts {account_id}", 100
        )
    owner = core.world_data(w.PLATFORM, entry.data["world_id"])
    return jsonify(next(a for a in owner["ad_accounts"] if str(a["id"]) == account_id))


@api_route("/adAccountUsers", scopes=READ_ADS)
def ad_account_users(call: ApiCall):
    finder = request.args.get("q")
    if finder == "authenticatedUser":
        suffix = ":" + call.person
        elements = [
            _account_user(r.key.rsplit(":", 1)[0], call.person, r.data["role"])
            for r in core.records_where_key(w.PLATFORM, "account_user", suffix=suffix)
        ]
        return jsonify(_collection(elements))
    if finder == "accounts":
        account_id = _id_from(request.args.get("accounts") or "", w.ACCOUNT_URN)
        _require_account(account_id)
        if _account_role(account_id, call.person) is None:
            raise error(
                403, "ACCESS_DENIED", "Not enough permissions to access this ad account", 100
            )
        elements = [
            _account_user(account_id, r.key.split(":", 1)[1], r.data["role"])
            for r in core.records_where_key(w.PLATFORM, "account_user", prefix=account_id + ":")
        ]
        return jsonify(_collection(elements))
    raise error(400, "ILLEGAL_ARGUMENT", "q must be authenticatedUser or accounts.")


def _account_user_key(raw: str) -> tuple[str, str]:
    parts = _key(raw, ("account", "user"))
    return _id_from(parts["account"], w.ACCOUNT_URN), _id_from(parts["user"], w.PERSON_URN)


@api_route("/adAccountUsers/<path:key>", scopes=READ_ADS)
def ad_account_user(call: ApiCall, key: str):
    account_id, person = _account_user_key(key)
    _require_account(account_id)
    if person != call.person and _account_role(account_id, call.person) is None:
        raise error(403, "ACCESS_DENIED", "Not enough permissions to access this ad account", 100)
    role = _account_role(account_id, person)
    if role is None:
        raise error(404, "NOT_FOUND", f"{w.PERSON_URN}{person} has no role on this ad account.")
    return jsonify(_account_user(account_id, person, role))


def _require_account_manager(call: ApiCall, account_id: str) -> None:
    if _account_role(account_id, call.person) not in w.ACCOUNT_ADMIN_ROLES:
        raise error(
            403,
            "ACCESS_DENIED",
            "Not enough permissions to access: adAccountUsers.PUT. Only an account manager "
            "or the billing admin of this ad account can manage its users.",
            100,
        )


@api_route("/adAccountUsers/<path:key>", methods=("PUT",), scopes=WRITE_ADS)
def put_ad_account_user(call: ApiCall, key: str):
    account_id, person = _account_user_key(key)
    _require_account(account_id)
    _require_account_manager(call, account_id)
    _fail_once(call)
    body = _json_body()
    role = body.get("role")
    if role not in w.ACCOUNT_ROLES:
        raise error(400, "ILLEGAL_ARGUMENT", f"role must be one of {', '.join(w.ACCOUNT_ROLES)}.")
    # PUT replaces the whole AdAccountUser: account, user and role, as the key says.
    if body.get("account") != w.ACCOUNT_URN + account_id or body.get("user") != (
        w.PERSON_URN + person
    ):
        raise error(400, "ILLEGAL_ARGUMENT", "The body's account and user must match the key.")
    if core.get_record(w.PLATFORM, "person", person) is None:
        raise error(400, "ILLEGAL_ARGUMENT", f"Member {w.PERSON_URN}{person} does not exist.")
    if role == "ACCOUNT_BILLING_ADMIN":
        # An ad account has one billing admin: the previous one becomes an account manager.
        for entry in core.records_where_key(w.PLATFORM, "account_user", prefix=account_id + ":"):
            if entry.data["role"] == "ACCOUNT_BILLING_ADMIN":
                core.set_data(entry, {**entry.data, "role": "ACCOUNT_MANAGER"})
    key_ = w.account_user_key(account_id, person)
    entry = core.get_record(w.PLATFORM, "account_user", key_, lock=True)
    if entry is None:
        core.put_record(w.PLATFORM, "account_user", key_, {"role": role})
    else:
        core.set_data(entry, {**entry.data, "role": role})
    db.session.commit()
    return _written(entry is None)


@api_route("/adAccountUsers/<path:key>", methods=("DELETE",), scopes=WRITE_ADS)
def delete_ad_account_user(call: ApiCall, key: str):
    account_id, person = _account_user_key(key)
    _require_account(account_id)
    # *Sandbox assumption*: a member may remove their own role, as well as an
    # account manager anyone's.
    if person != call.person:
        _require_account_manager(call, account_id)
    entry = core.get_record(w.PLATFORM, "account_user", w.account_user_key(account_id, person))
    if entry is None:
        raise error(404, "NOT_FOUND", f"{w.PERSON_URN}{person} has no role on this ad account.")
    db.session.delete(entry)
    db.session.commit()
    return Response(status=204)


# ------------------------------------------------------------------ not found


def not_found(rest: str):
    raise error(404, "NOT_FOUND", f"No virtual resource found: /rest/{rest}")


csrf.exempt(not_found)
bp.add_url_rule(
    API + "/<path:rest>",
    endpoint="linkedin_not_found",
    view_func=not_found,
    methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
)
