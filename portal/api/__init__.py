"""The public REST API, /api/v1: JSON only, bearer API keys, no CSRF (no cookies).

    GET  /api/v1/openapi.json   the OpenAPI 3.1 document (generated, no auth)

Every operation is declared once with `operation()`, which registers the Flask
view and describes it for the OpenAPI document from the same pydantic models
that validate its input.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Blueprint, Response, current_app, g, jsonify, request
from flask_babel import gettext as _
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import defer
from werkzeug.exceptions import HTTPException

from .. import audit, inputs
from ..errors import _problem
from ..extensions import csrf, db, limiter
from ..inputs import parse_id
from ..models import Agency, ApiKey
from . import keys, throttle

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

MAX_ID = inputs.MAX_ID


class ApiError(Exception):
    """Answered as application/problem+json."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        errors: list[dict] | None = None,
        headers: dict | None = None,
    ):
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}


def invalid(errors: list[dict], detail: str | None = None) -> ApiError:
    return ApiError(
        422,
        _("Invalid input"),
        detail or _("Some fields are not right: fix each one listed in errors and send again."),
        errors,
    )


def not_found() -> ApiError:
    return ApiError(
        404, _("Not found"), _("Nothing with this id exists in your agency. Check the id.")
    )


# ------------------------------------------------------- operation registry


@dataclass
class Operation:
    method: str
    rule: str  # Flask rule under /api/v1, e.g. /access-requests/<int:id>
    operation_id: str
    summary: str
    tag: str
    scope: str | None  # None: no key needed
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    responses: dict[int, type[BaseModel] | str | None] = field(default_factory=dict)
    idempotent: bool = False
    description: str = ""


OPERATIONS: list[Operation] = []


def operation(
    method: str,
    rule: str,
    *,
    operation_id: str,
    summary: str,
    tag: str,
    scope: str | None = "read",
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    responses: dict[int, type[BaseModel] | str | None],
    idempotent: bool = False,
    description: str = "",
) -> Callable:
    def decorator(view: Callable) -> Callable:
        OPERATIONS.append(
            Operation(
                method,
                rule,
                operation_id,
                summary,
                tag,
                scope,
                body,
                query,
                responses,
                idempotent,
                description,
            )
        )
        view.api_scope = scope
        bp.add_url_rule(rule, endpoint=operation_id, view_func=view, methods=[method])
        return view

    return decorator


# --------------------------------------------------------------- helpers


def _field(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "body"


def validation_errors(exc: ValidationError) -> list[dict]:
    errors = []
    for error in exc.errors(include_url=False, include_input=False):
        # Drop pydantic's union/type-tag parts ("function-after", "str", ...).
        loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and "[" in p))
        errors.append({"field": _field(loc), "message": error["msg"]})
    return errors[:50]


def json_body() -> tuple[object, bytes]:
    raw = request.get_data(cache=True)
    try:
        data = json.loads(raw) if raw.strip() else None
    except (ValueError, RecursionError):
        raise invalid(
            [{"field": "body", "message": _("Send a JSON object (the body is not valid JSON).")}]
        ) from None
    return data, raw


def parse_body(model: type[BaseModel]) -> BaseModel:
    data, _raw = json_body()
    if not isinstance(data, dict):
        raise invalid([{"field": "body", "message": _("Send a JSON object.")}])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid(validation_errors(exc)) from None
    except RecursionError:
        raise invalid([{"field": "body", "message": _("The JSON is nested too deeply.")}]) from None


def parse_query(model: type[BaseModel]) -> BaseModel:
    values = {k: v for k, v in request.args.items() if k in model.model_fields}
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise invalid(validation_errors(exc)) from None


def object_id(value: object) -> int:
    """An id from the path, bounded like every id (`inputs.parse_id`); else a 404."""
    checked = parse_id(value)
    if checked is None:
        raise not_found()
    return checked


def json_response(body: dict, status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response


def agency() -> Agency:
    return g.api_agency


def actor() -> audit.Actor:
    """The key as the actor of a service call, which audits the call itself."""
    g.api_audited = True
    return keys.actor_for(g.api_key)


def request_fingerprint() -> str:
    data, _raw = json_body()
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":")) if data is not None else ""
    blob = f"{request.method} {request.path}\n{canonical}"
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()


# --------------------------------------------------------- authentication


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _sep, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


@bp.before_request
def authenticate():
    g.api_key = None
    g.api_audited = False
    view = current_app.view_functions.get(request.endpoint or "")
    scope = getattr(view, "api_scope", "read")
    if view is None or scope is None:
        _check_wait(throttle.hit_address())
        return None
    # An address that failed too often is stopped before any key is looked at.
    _check_wait(throttle.failures_spent(), failures=True)
    key: ApiKey | None = keys.authenticate(_bearer())
    if key is None:
        throttle.record_failure()
        raise ApiError(
            401,
            _("Missing or invalid API key"),
            _(
                "Send a valid key in the Authorization header: Bearer lk_... "
                "Create one in Settings → API keys."
            ),
            headers={"WWW-Authenticate": 'Bearer realm="latchkey"'},
        )
    # Only a proved key spends its own budget (never a guess carrying its prefix).
    _check_wait(throttle.hit_key(key.id))
    g.api_key = key
    g.api_agency = db.session.get(Agency, key.agency_id, options=[defer(Agency.logo)])
    g.agency_id = key.agency_id
    if not key.allows(scope):
        raise ApiError(
            403,
            _("This key cannot do that"),
            _("This key has the “read” scope only. Use a key with the “write” scope."),
        )
    keys.touch(key)
    return None


def _check_wait(seconds: int | None, failures: bool = False) -> None:
    if seconds is None:
        return
    if failures:
        detail = _(
            "Too many calls from your address had a missing or invalid API key. Wait %(n)d "
            "seconds, then try again with a valid key.",
            n=seconds,
        )
    else:
        detail = _(
            "This key sent too many requests. Wait %(n)d seconds, then try again.", n=seconds
        )
    raise ApiError(429, _("Too many requests"), detail, headers={"Retry-After": str(seconds)})


@bp.after_request
def record_call(response: Response) -> Response:
    key = g.get("api_key")
    # A call whose service function wrote an event as this key is audited already.
    if key is not None and not (g.get("api_audited") and response.status_code < 400):
        try:
            audit.record(
                "api.call",
                agency_id=key.agency_id,
                actor=keys.actor_for(key),
                subject=("api_key", key.id),
                details={
                    "method": request.method,
                    "path": request.path[:300],
                    "status": response.status_code,
                },
            )
            db.session.commit()
        except Exception:
            db.session.rollback()
            current_app.logger.exception("could not audit API call %s", request.path)
    return response


# ----------------------------------------------------------------- errors


@bp.errorhandler(ApiError)
def api_error(error: ApiError):
    db.session.rollback()
    response = _problem(error.status, error.title, error.detail, error.errors)
    response.headers.update(error.headers)
    return response


@bp.errorhandler(429)
def too_many(error: HTTPException):
    wait = 60
    current = limiter.current_limit
    if current is not None:
        wait = max(1, math.ceil(current.reset_at - time.time()))
    response = _problem(
        429,
        _("Too many requests"),
        _("This key sent too many requests. Wait %(n)d seconds, then try again.", n=wait),
    )
    response.headers["Retry-After"] = str(wait)
    return response


from . import openapi, views  # noqa: E402,F401
