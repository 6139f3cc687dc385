"""The Graph API's protocol, as the emulated Meta speaks it.

A call authenticates with `Authorization: Bearer <token>` (or an
`access_token` parameter, as Graph API allows), and may add `appsecret_proof`
(checked when sent). Nodes answer the fields asked for with `fields=` (nested
`business{id,name}` included); lists answer `{"data": [...], "paging":
{"cursors": {...}, "next": ...}}`; errors answer `{"error": {"message",
"type", "code", "error_subcode", "fbtrace_id"}}`.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from flask import request

from ...extensions import csrf, db
from ...models.base import utcnow
from .. import core
from ..core import bp
from . import world as w
from .oauth import GRAPH, graph_error

DEFAULT_LIMIT = 25
MAX_LIMIT = 100
DEFAULT_FIELDS = ("id", "name")


# ---------------------------------------------------------------- authentication


@dataclass
class ApiCall:
    """One authenticated call: the token's world, its scopes, and its Page if a Page token."""

    world_id: str
    scopes: tuple[str, ...]
    page_id: str | None = None

    def world(self) -> dict[str, Any]:
        return core.world_data(w.PLATFORM, self.world_id)

    def business(self) -> dict[str, Any] | None:
        return self.world().get("business")


def _raw_token() -> str | None:
    header = request.headers.get("Authorization") or ""
    scheme, _, value = header.partition(" ")
    if scheme.lower() in ("bearer", "oauth") and value.strip():
        return value.strip()
    return request.values.get("access_token") or None


def _check_proof(raw: str) -> None:
    """`appsecret_proof` = HMAC-SHA256(app secret, token), checked when the caller sends it."""
    proof = request.values.get("appsecret_proof")
    if proof is None:
        return
    from ...platforms import credentials

    secret = credentials(w.PLATFORM)["client_secret"]
    expected = hmac.new(secret.encode(), raw.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(proof, expected):
        raise graph_error(
            400, w.INVALID_PARAMETER, "Invalid appsecret_proof provided in the API argument"
        )


def authenticate(scope: str | None, *, page_token_ok: bool = False) -> ApiCall:
    raw = _raw_token()
    if not raw:
        raise graph_error(
            400,
            2500,
            "An active access token must be used to query information about the current user.",
        )
    _check_proof(raw)
    page = core.get_record(w.PLATFORM, "page_token", core.token_hash(raw))
    if page is not None and page.expires_at is not None and page.expires_at <= utcnow():
        page = None  # forgotten: answers as an unknown token
    if page is not None:
        if not page_token_ok:
            raise graph_error(
                400,
                w.INVALID_PARAMETER,
                "(#100) This call needs a user access token, not a Page access token.",
            )
        call = ApiCall(page.data["world_id"], tuple(page.data["scopes"]), page.data["page_id"])
    else:
        try:
            info = core.authenticate(w.PLATFORM, f"Bearer {raw}")
        except core.TokenProblem as problem:
            if problem.reason == "expired":
                raise graph_error(
                    401,
                    w.INVALID_TOKEN,
                    "Error validating access token: Session has expired on "
                    f"{datetime.now(UTC).strftime('%A, %d-%b-%y %H:%M:%S')} UTC.",
                    subcode=w.SUBCODE_EXPIRED,
                    headers={"WWW-Authenticate": 'OAuth "Facebook Platform" "invalid_token"'},
                ) from None
            raise graph_error(
                401,
                w.INVALID_TOKEN,
                "Invalid OAuth access token - Cannot parse access token",
                subcode=w.SUBCODE_INVALID,
                headers={"WWW-Authenticate": 'OAuth "Facebook Platform" "invalid_token"'},
            ) from None
        call = ApiCall(info.world_id, info.scopes)
    if scope and scope not in call.scopes:
        raise graph_error(
            403,
            w.PERMISSION_ERROR,
            f"(#200) Requires {scope} permission to manage the object",
        )
    _charge_rate_limit(call.world_id)
    return call


def _charge_rate_limit(world_id: str) -> None:
    if not core.world(w.PLATFORM, world_id).data.get("rate_limit"):
        return
    record = core.world(w.PLATFORM, world_id, lock=True)
    data = copy.deepcopy(record.data)
    wait = core.spend_call(data)
    core.set_data(record, data)
    db.session.commit()
    if wait is None:
        return
    business_id = (data.get("business") or {}).get("id") or world_id
    usage = {
        business_id: [
            {
                "type": "ads_management",
                "call_count": 100,
                "total_cputime": 25,
                "total_time": 25,
                "estimated_time_to_regain_access": max(1, round(wait / 60)),
            }
        ]
    }
    raise graph_error(
        429,
        w.AD_ACCOUNT_THROTTLED,
        "(#80004) There have been too many calls to this ad-account. Wait a bit and try again.",
        subcode=w.SUBCODE_THROTTLED,
        transient=True,
        headers={"Retry-After": str(wait), "X-Business-Use-Case-Usage": json.dumps(usage)},
    )


def graph_route(rule: str, methods: tuple[str, ...] = ("GET",), name: str | None = None):
    """Register a Graph API view (exempt from CSRF: API clients send tokens, not cookies)."""

    def decorate(fn: Callable[..., Any]):
        @wraps(fn)
        def view(**kwargs: Any):
            return fn(**kwargs)

        csrf.exempt(view)
        bp.add_url_rule(
            GRAPH + rule,
            endpoint=f"meta_{name or fn.__name__}",
            view_func=view,
            methods=list(methods),
        )
        return view

    return decorate


# ------------------------------------------------------------------ fields, paging


def parse_fields(text: str) -> dict[str, Any]:
    """`id,name,business{id,name}` -> {"id": None, "name": None, "business": {...}}."""

    def parse(i: int) -> tuple[dict[str, Any], int]:
        out: dict[str, Any] = {}
        name = ""
        while i < len(text):
            ch = text[i]
            if ch == ",":
                if name.strip():
                    out[_field_name(name)] = None
                name, i = "", i + 1
            elif ch == "{":
                sub, i = parse(i + 1)
                out[_field_name(name)] = sub
                name = ""
            elif ch == "}":
                if name.strip():
                    out[_field_name(name)] = None
                return out, i + 1
            else:
                name, i = name + ch, i + 1
        if name.strip():
            out[_field_name(name)] = None
        return out, i

    return parse(0)[0]


def _field_name(raw: str) -> str:
    # Modifiers such as `.limit(5)` are accepted and ignored.
    return raw.strip().split(".", 1)[0]


def select(node: dict[str, Any], spec: dict[str, Any] | None, node_type: str) -> dict[str, Any]:
    """The fields asked for (Graph API always answers `id`), strict about unknown ones."""
    if spec is None:
        spec = {f: None for f in DEFAULT_FIELDS if f in node}
    out: dict[str, Any] = {}
    for field, sub in spec.items():
        if field not in node:
            raise graph_error(
                400,
                w.INVALID_PARAMETER,
                f"(#100) Tried accessing nonexisting field ({field}) on node type ({node_type})",
            )
        value = node[field]
        if value is None:
            continue
        if isinstance(value, dict) and sub is not None:
            value = {k: v for k, v in value.items() if k in sub or k == "id"}
        out[field] = value
    if "id" in node:
        out.setdefault("id", node["id"])
        out = {"id": out.pop("id"), **out}
    return out


def requested_fields() -> dict[str, Any] | None:
    raw = request.args.get("fields")
    return parse_fields(raw) if raw else None


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode().rstrip("=")


def _offset(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return int(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, UnicodeDecodeError):
        raise graph_error(400, w.INVALID_PARAMETER, "(#100) Invalid cursor.") from None


def page_of(items: list[dict[str, Any]], node_type: str) -> dict[str, Any]:
    try:
        limit = int(request.args.get("limit", DEFAULT_LIMIT))
    except ValueError:
        raise graph_error(400, w.INVALID_PARAMETER, "(#100) limit must be a number.") from None
    limit = max(1, min(limit, MAX_LIMIT))
    after = request.args.get("after")
    start = _offset(after) + 1 if after else 0
    end = start + limit
    spec = requested_fields()
    chunk = [select(item, spec, node_type) for item in items[start:end]]
    body: dict[str, Any] = {"data": chunk}
    if chunk:
        body["paging"] = {"cursors": {"before": _cursor(start), "after": _cursor(end - 1)}}
        if end < len(items):
            query = {k: v for k, v in request.args.items() if k not in ("after", "access_token")}
            query["after"] = _cursor(min(end, len(items)) - 1)
            body["paging"]["next"] = f"{request.base_url}?{urlencode(query)}"
    return body


def unsupported(node_id: str, method: str = "get") -> core.SandboxAPIError:
    return graph_error(
        400,
        w.INVALID_PARAMETER,
        f"Unsupported {method} request. Object with ID '{node_id}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation.",
        subcode=w.SUBCODE_UNSUPPORTED_REQUEST,
        error_type="GraphMethodException",
    )


def require_scope(call: ApiCall, scope: str) -> None:
    if scope not in call.scopes:
        raise graph_error(403, w.PERMISSION_ERROR, f"(#200) Requires {scope} permission")
