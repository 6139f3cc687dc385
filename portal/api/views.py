"""The operations of API v1 (see CONTRACT.md). Views stay thin: the same
service functions as the agency area do the work."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import timedelta

from flask import Response, current_app, g, request
from flask_babel import gettext as _
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from ..extensions import db
from ..models import AccessRequest, IdempotencyKey, Template, WebhookEndpoint
from ..models.base import utcnow
from ..services import requests as request_service
from ..services import templates as template_service
from ..services.requests import RequestError
from . import (
    ApiError,
    actor,
    agency,
    invalid,
    json_response,
    not_found,
    object_id,
    operation,
    parse_body,
    parse_query,
    request_fingerprint,
    serialize,
)
from .schemas import (
    AccessRequestCreate,
    AccessRequestList,
    AccessRequestOut,
    AccessRequestQuery,
    PlatformList,
    TemplateCreate,
    TemplateList,
    TemplateOut,
    WebhookEndpointCreate,
    WebhookEndpointCreated,
    WebhookEndpointList,
)

IDEMPOTENCY_TTL = timedelta(hours=24)


def _service_errors(exc: RequestError) -> ApiError:
    return invalid(exc.errors)


# ------------------------------------------------------------ idempotency


def idempotent(handler, about_request: bool = False) -> Response:
    """Run `handler()` once per Idempotency-Key: a repeat with the same body gets
    the first answer again; the same key with another body is refused (422).

    The answer is kept encrypted (it may carry a client's link); with
    `about_request`, the id of the access request it returns is kept beside it.
    """
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return handler()
    key = key.strip()
    if not 1 <= len(key) <= 255:
        raise invalid([{"field": "Idempotency-Key", "message": _("Use 1 to 255 characters.")}])
    fingerprint = request_fingerprint()
    agency_id = agency().id
    for _attempt in range(2):
        row = db.session.execute(
            select(IdempotencyKey).where(
                IdempotencyKey.agency_id == agency_id, IdempotencyKey.key == key
            )
        ).scalar_one_or_none()
        if row is not None and row.created_at < utcnow() - IDEMPOTENCY_TTL:
            db.session.delete(row)
            db.session.commit()
            row = None
        if row is not None:
            if row.request_hash != fingerprint:
                raise invalid(
                    [
                        {
                            "field": "Idempotency-Key",
                            "message": _(
                                "This key was already used with another request. "
                                "Use a new key for a new request."
                            ),
                        }
                    ]
                )
            if row.response_status is None:
                raise ApiError(
                    409,
                    _("Request in progress"),
                    _("A request with this Idempotency-Key is still running. Retry shortly."),
                )
            response = Response(row.response_body, status=row.response_status)
            response.mimetype = "application/json"
            response.headers["Idempotent-Replayed"] = "true"
            return response
        try:
            db.session.add(IdempotencyKey(agency_id=agency_id, key=key, request_hash=fingerprint))
            db.session.commit()
            break
        except IntegrityError:
            db.session.rollback()  # another request took the key: read its row
    else:  # pragma: no cover - the row vanished twice
        raise ApiError(409, _("Request in progress"), _("Retry shortly."))

    stored = False
    try:
        response = handler()
        if 200 <= response.status_code < 300:
            db.session.execute(
                IdempotencyKey.__table__.update()
                .where(IdempotencyKey.agency_id == agency_id, IdempotencyKey.key == key)
                .values(
                    response_status=response.status_code,
                    response_body=response.get_data(as_text=True),
                    access_request_id=_request_id(response) if about_request else None,
                )
            )
            db.session.commit()
            stored = True
        return response
    finally:
        if not stored:
            # Only a success is replayed: after an error the caller may fix and retry.
            db.session.rollback()
            db.session.execute(
                delete(IdempotencyKey).where(
                    IdempotencyKey.agency_id == agency_id, IdempotencyKey.key == key
                )
            )
            db.session.commit()


def _request_id(response: Response) -> int | None:
    body = response.get_json(silent=True)
    value = body.get("id") if isinstance(body, dict) else None
    return value if isinstance(value, int) else None


# -------------------------------------------------------------- platforms


@operation(
    "GET",
    "/platforms",
    operation_id="list_platforms",
    summary="List platforms, their asset types and permissions",
    tag="Platforms",
    responses={200: PlatformList},
)
def list_platforms():
    return json_response({"data": serialize.platform_list()})


# -------------------------------------------------------------- templates


def _template(template_id: int) -> Template:
    row = db.session.get(Template, object_id(template_id))
    if row is None or row.agency_id != agency().id:
        raise not_found()
    return row


@operation(
    "POST",
    "/templates",
    operation_id="create_template",
    summary="Create a template",
    tag="Templates",
    scope="write",
    body=TemplateCreate,
    responses={201: TemplateOut},
    idempotent=True,
)
def create_template():
    def handler():
        data = parse_body(TemplateCreate)
        try:
            row = template_service.save_template(
                agency().id,
                data.name,
                data.message,
                [item.model_dump() for item in data.items],
                None,
                actor(),
            )
        except RequestError as exc:
            raise _service_errors(exc) from None
        return json_response(serialize.template(row), 201)

    return idempotent(handler)


@operation(
    "GET",
    "/templates",
    operation_id="list_templates",
    summary="List templates in use",
    tag="Templates",
    responses={200: TemplateList},
)
def list_templates():
    rows = db.session.execute(
        select(Template)
        .where(Template.agency_id == agency().id, Template.archived_at.is_(None))
        .order_by(Template.id)
    ).scalars()
    return json_response({"data": [serialize.template(t) for t in rows]})


@operation(
    "GET",
    "/templates/<int:id>",
    operation_id="get_template",
    summary="Get a template",
    tag="Templates",
    responses={200: TemplateOut},
)
def get_template(id: int):
    return json_response(serialize.template(_template(id)))


# -------------------------------------------------------- access requests


def _access_request(request_id: int) -> AccessRequest:
    row = db.session.execute(
        select(AccessRequest)
        .where(AccessRequest.id == object_id(request_id))
        .options(joinedload(AccessRequest.client), selectinload(AccessRequest.grants))
    ).scalar_one_or_none()
    if row is None or row.agency_id != agency().id:
        raise not_found()
    return row


@operation(
    "POST",
    "/access-requests",
    operation_id="create_access_request",
    summary="Create an access request (a link for one client)",
    tag="Access requests",
    scope="write",
    body=AccessRequestCreate,
    responses={201: AccessRequestOut},
    idempotent=True,
    description=(
        "Give `template_id` or `items` (items win when both are given). "
        "With `send_email: true` the link is e-mailed to the client: only for an agency "
        "whose e-mail address is confirmed (else 409) and within the limits on e-mails to "
        "clients (else 429 with Retry-After); either refusal creates nothing."
    ),
)
def create_access_request():
    def handler():
        data = parse_body(AccessRequestCreate)
        template = None
        if data.template_id is not None:
            template = db.session.get(Template, data.template_id)
            if template is None or template.agency_id != agency().id or template.archived_at:
                raise invalid(
                    [{"field": "template_id", "message": _("This template does not exist.")}]
                )
        elif not data.items:
            raise invalid(
                [{"field": "items", "message": _("Give template_id or items (or both).")}]
            )
        if data.send_email:
            _may_email_client(data.client.email)
        try:
            row, token = request_service.create_request(
                agency(),
                None,
                data.client.name,
                data.client.email,
                data.client.locale or "",
                [item.model_dump() for item in data.items] if data.items else None,
                expires_in_days=data.expires_in_days,
                redirect_url=data.redirect_url,
                external_id=data.external_id,
                template=template,
                actor=actor(),
            )
        except RequestError as exc:
            raise _service_errors(exc) from None
        if data.send_email:
            from ..notifications import send_request_email

            send_request_email(row.id)
        body = serialize.access_request(row, request_service.request_url(row, token))
        return json_response(body, 201)

    return idempotent(handler, about_request=True)


def _may_email_client(email: str) -> None:
    """Refuse the whole call (nothing is created) when its e-mail could not go."""
    from ..notifications.client_mail import refusal

    refused = refusal(agency(), email)
    if refused is None:
        return
    if refused.status == 409:
        raise ApiError(409, _("Your agency's e-mail address is not confirmed"), refused.message)
    raise ApiError(
        429,
        _("Too many e-mails to clients"),
        refused.message,
        headers={"Retry-After": str(refused.retry_after)},
    )


def _encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"b": last_id}).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))["b"]
        if not isinstance(value, int) or not 1 <= value <= 2**31:
            raise ValueError
        return value
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeError):
        raise invalid(
            [{"field": "cursor", "message": _("Use the next_cursor of a previous page as is.")}]
        ) from None


@operation(
    "GET",
    "/access-requests",
    operation_id="list_access_requests",
    summary="List access requests, newest first",
    tag="Access requests",
    query=AccessRequestQuery,
    responses={200: AccessRequestList},
)
def list_access_requests():
    query = parse_query(AccessRequestQuery)
    stmt = (
        select(AccessRequest)
        .where(AccessRequest.agency_id == agency().id, AccessRequest.status != "draft")
        .options(joinedload(AccessRequest.client), selectinload(AccessRequest.grants))
        .order_by(AccessRequest.id.desc())
        .limit(query.limit + 1)
    )
    if query.status:
        stmt = stmt.where(AccessRequest.status == query.status)
    if query.external_id:
        stmt = stmt.where(AccessRequest.external_id == query.external_id)
    if query.cursor:
        stmt = stmt.where(AccessRequest.id < _decode_cursor(query.cursor))
    rows = list(db.session.execute(stmt).unique().scalars())
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    return json_response(
        {
            "data": [serialize.access_request(r) for r in rows],
            "next_cursor": _encode_cursor(rows[-1].id) if more else None,
        }
    )


@operation(
    "GET",
    "/access-requests/<int:id>",
    operation_id="get_access_request",
    summary="Get an access request with its grants",
    tag="Access requests",
    responses={200: AccessRequestOut},
)
def get_access_request(id: int):
    return json_response(serialize.access_request(_access_request(id)))


@operation(
    "POST",
    "/access-requests/<int:id>/revoke",
    operation_id="revoke_access_request",
    summary="Revoke an access request: its link then answers 410",
    tag="Access requests",
    scope="write",
    responses={200: AccessRequestOut},
)
def revoke_access_request(id: int):
    row = _access_request(id)
    if not request_service.revoke_request(row, actor()):
        g.api_audited = False  # already revoked: nothing recorded, so audit the call

    return json_response(serialize.access_request(row))


@operation(
    "GET",
    "/access-requests/<int:id>/report.pdf",
    operation_id="get_access_request_report",
    summary="Download the PDF confirmation report",
    tag="Access requests",
    responses={200: "application/pdf"},
)
def get_access_request_report(id: int):
    row = _access_request(id)
    from ..reports import ReportError, render_report, report_filename

    try:
        pdf = render_report(row.id)
    except ReportError:
        current_app.logger.exception("report of request %s failed", row.id)
        raise ApiError(
            503,
            _("Report unavailable"),
            _("The report could not be made just now. Try again in a minute."),
            headers={"Retry-After": "60"},
        ) from None
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{report_filename(row)}"'
    return response


# ------------------------------------------------------ webhook endpoints


@operation(
    "POST",
    "/webhook-endpoints",
    operation_id="create_webhook_endpoint",
    summary="Create a webhook endpoint (its secret is shown once, here)",
    tag="Webhooks",
    scope="write",
    body=WebhookEndpointCreate,
    responses={201: WebhookEndpointCreated},
)
def create_webhook_endpoint():
    from ..webhooks import service as webhook_service

    data = parse_body(WebhookEndpointCreate)
    try:
        endpoint, secret = webhook_service.create_endpoint(
            agency().id, data.url, list(data.events), data.description, actor()
        )
    except webhook_service.EndpointError as exc:
        raise invalid(exc.errors) from None
    body = serialize.webhook_endpoint(endpoint)
    body["secret"] = secret
    for name in ("disabled_at", "disabled_reason"):
        body.pop(name)
    return json_response(body, 201)


@operation(
    "GET",
    "/webhook-endpoints",
    operation_id="list_webhook_endpoints",
    summary="List webhook endpoints",
    tag="Webhooks",
    responses={200: WebhookEndpointList},
)
def list_webhook_endpoints():
    rows = db.session.execute(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.agency_id == agency().id)
        .order_by(WebhookEndpoint.id)
    ).scalars()
    return json_response({"data": [serialize.webhook_endpoint(e) for e in rows]})


@operation(
    "DELETE",
    "/webhook-endpoints/<int:id>",
    operation_id="delete_webhook_endpoint",
    summary="Delete a webhook endpoint",
    tag="Webhooks",
    scope="write",
    responses={204: None},
)
def delete_webhook_endpoint(id: int):
    from ..webhooks import service as webhook_service

    endpoint = db.session.get(WebhookEndpoint, object_id(id))
    if endpoint is None or endpoint.agency_id != g.api_key.agency_id:
        raise not_found()
    webhook_service.delete_endpoint(endpoint, actor())
    return Response(status=204)
