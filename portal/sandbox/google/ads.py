"""The emulated Google Ads API (REST), on the real paths and payload shapes.

Served at `/sandbox/google/googleads.googleapis.com/<version>/...`, the
version the connector uses (`API_VERSION`), as described by
tests/platform_specs/google/ads-<version>.json (from Google's protos):

- `GET customers:listAccessibleCustomers`: the accounts the person reaches directly;
- `POST customers/{id}/googleAds:search`: GAQL over `customer`,
  `customer_client`, `customer_client_link` and `customer_manager_link`
  (SELECT fields FROM resource [WHERE a = 'x' AND b IN (...) AND c <= 1] [LIMIT n]);
- `POST customers/{manager}/customerClientLinks:mutate`: the manager invites
  a client (`create`, PENDING) or cancels/ends a link (`update`);
- `POST customers/{client}/customerManagerLinks:mutate`: the client accepts
  (ACTIVE) or refuses (REFUSED) an invitation, or either side ends the link
  (INACTIVE).

Every call needs the `developer-token` header; `login-customer-id` names the
account acted through (a manager reaches its ACTIVE clients). Errors carry a
`GoogleAdsFailure` whose `errorCode` names the exact error, as Google does.
"""

from __future__ import annotations

import copy
import re
import secrets
from typing import Any

from flask import request

from ...extensions import db
from ...platforms.google.ads import API_VERSION
from .. import core
from . import common, gaql
from . import world as w

HOST = f"googleads.googleapis.com/{API_VERSION}"
SCOPES = ("https://www.googleapis.com/auth/adwords",)
LINK_STATUSES = ("ACTIVE", "INACTIVE", "PENDING", "REFUSED", "CANCELED")
TOP_MESSAGES = {
    400: "Request contains an invalid argument.",
    401: "Request is missing required authentication credential.",
    403: "The caller does not have permission",
}


def ads_error(code: int, kind: str, value: str, message: str) -> core.SandboxAPIError:
    failure = {
        "@type": f"type.googleapis.com/google.ads.googleads.{API_VERSION}.errors.GoogleAdsFailure",
        "errors": [{"errorCode": {kind: value}, "message": message}],
        "requestId": secrets.token_hex(8),
    }
    return common.error(code, TOP_MESSAGES.get(code, message), details=[failure])


def denied() -> core.SandboxAPIError:
    return ads_error(
        403,
        "authorizationError",
        "USER_PERMISSION_DENIED",
        "User doesn't have permission to access customer. Note: If you're accessing a client "
        "customer, the manager's customer id must be set in the 'login-customer-id' header.",
    )


def _digits(value: str | None) -> str:
    return "".join(ch for ch in str(value or "") if ch.isdigit())


def _call(rule: str, methods=("POST",)):
    """An Ads view: scope-checked, and the developer token required."""

    def decorate(fn):
        def checked(call: common.ApiCall, **kwargs):
            if not request.headers.get("developer-token"):
                # RequestError (not AuthenticationError) in Google's protos.
                raise ads_error(
                    400,
                    "requestError",
                    "DEVELOPER_TOKEN_PARAMETER_MISSING",
                    "The developer token is not in the request header.",
                )
            return fn(call, **kwargs)

        checked.__name__ = fn.__name__
        return common.api_route(f"{HOST}/{rule}", methods=methods, scopes=SCOPES)(checked)

    return decorate


# ---------------------------------------------------------------------- access


def _customer(customer_id: str) -> dict[str, Any] | None:
    found = common.owner_world("ads_customer", customer_id)
    if found is None:
        return None
    _world_id, data = found
    return next((c for c in data["ads"] if c["id"] == customer_id), None)


def _check_2sv(world: dict[str, Any], customer: dict[str, Any]) -> None:
    if customer.get("requires_2sv") and not world["user"].get("two_step_verification"):
        raise ads_error(
            401,
            "authenticationError",
            "TWO_STEP_VERIFICATION_NOT_ENROLLED",
            "An account administrator changed this account's authentication settings. To "
            "access this Google Ads account, enable 2-Step Verification in your Google account.",
        )


def access(call: common.ApiCall, customer_id: str) -> tuple[str, bool]:
    """(the caller's role on the account, whether through a manager); 403 when none."""
    world = call.world()
    own = {c["id"]: c for c in world["ads"]}
    login = _digits(request.headers.get("login-customer-id")) or customer_id
    if core.get_record(w.PLATFORM, "ads_customer", customer_id) is None:
        raise denied()
    if login != customer_id:
        manager = own.get(login)
        if manager is None or not manager["manager"]:
            raise denied()
        link = core.get_record(w.PLATFORM, "ads_link", f"{customer_id}|{login}")
        if link is None or link.data["status"] != "ACTIVE":
            raise denied()
        _check_2sv(world, manager)
        return manager["access_role"], True
    if customer_id not in own:
        raise denied()
    _check_2sv(world, own[customer_id])
    return own[customer_id]["access_role"], False


@_call("customers:listAccessibleCustomers", methods=("GET",))
def ads_list_accessible(call: common.ApiCall):
    return {"resourceNames": [f"customers/{c['id']}" for c in call.world()["ads"]]}


# ------------------------------------------------------------------------ GAQL


def query_error(value: str, message: str) -> core.SandboxAPIError:
    return ads_error(400, "queryError", value, message)


def _rows(resource: str, customer_id: str) -> list[dict[str, Any]]:
    """Every row of a resource seen from one account, as {field: value}."""
    customer = _customer(customer_id) or {}
    if resource == "customer":
        return [
            {
                "resource_name": f"customers/{customer_id}",
                **{k: customer.get(k) for k in gaql.FIELDS["customer"] if k != "resource_name"},
            }
        ]
    if resource == "customer_client":
        rows = [_client_row(customer_id, customer, customer_id, 0)]
        if customer.get("manager"):
            for link in core.records_where_key(w.PLATFORM, "ads_link", suffix=f"|{customer_id}"):
                if link.data["status"] == "ACTIVE":
                    client_id = link.key.split("|", 1)[0]
                    rows.append(_client_row(customer_id, _customer(client_id) or {}, client_id, 1))
        return rows
    if resource == "customer_client_link":
        return [
            {
                "resource_name": (
                    f"customers/{customer_id}/customerClientLinks/"
                    f"{link.key.split('|', 1)[0]}~{link.data['manager_link_id']}"
                ),
                "client_customer": f"customers/{link.key.split('|', 1)[0]}",
                "manager_link_id": link.data["manager_link_id"],
                "status": link.data["status"],
                "hidden": False,
            }
            for link in core.records_where_key(w.PLATFORM, "ads_link", suffix=f"|{customer_id}")
        ]
    return [
        {
            "resource_name": (
                f"customers/{customer_id}/customerManagerLinks/"
                f"{link.key.split('|', 1)[1]}~{link.data['manager_link_id']}"
            ),
            "manager_customer": f"customers/{link.key.split('|', 1)[1]}",
            "manager_link_id": link.data["manager_link_id"],
            "status": link.data["status"],
        }
        for link in core.records_where_key(w.PLATFORM, "ads_link", prefix=f"{customer_id}|")
    ]


def _client_row(manager_id: str, customer: dict[str, Any], client_id: str, level: int) -> dict:
    return {
        "resource_name": f"customers/{manager_id}/customerClients/{client_id}",
        "client_customer": f"customers/{client_id}",
        "id": client_id,
        "descriptive_name": customer.get("descriptive_name"),
        "level": level,
        "manager": bool(customer.get("manager")),
        "status": customer.get("status", "ENABLED"),
        "currency_code": customer.get("currency_code"),
        "time_zone": customer.get("time_zone"),
        "hidden": False,
        "test_account": bool(customer.get("test_account")),
    }


@_call("customers/<customer_id>/googleAds:search")
def ads_search(call: common.ApiCall, customer_id: str):
    access(call, customer_id)
    try:
        query = gaql.parse(str(common.json_body().get("query") or ""))
    except gaql.QueryError as exc:
        raise query_error(exc.code, exc.message) from None
    rows = [row for row in _rows(query.resource, customer_id) if query.matches(row)]
    if query.limit is not None:
        rows = rows[: query.limit]
    answer: dict[str, Any] = {"fieldMask": ",".join(gaql.camel(f) for f in query.fields)}
    if rows:
        answer["results"] = [query.project(row) for row in rows]
    return answer


# ------------------------------------------------------------------ mutations


def link_error(value: str, message: str) -> core.SandboxAPIError:
    return ads_error(400, "managerLinkError", value, message)


def _operation(body: dict[str, Any], key: str) -> dict[str, Any]:
    operation = body.get(key)
    if key == "operations":
        if not isinstance(operation, list) or len(operation) != 1:
            raise common.bad_request("operations must hold exactly one operation.")
        operation = operation[0]
    if not isinstance(operation, dict):
        raise common.bad_request(f"{key} is required.")
    return operation


def _save_link(client: str, manager: str, status: str, link_id: str | None = None) -> str:
    record = core.get_record(w.PLATFORM, "ads_link", f"{client}|{manager}", lock=True)
    link_id = link_id or core.new_id(10)
    data = {"manager_link_id": link_id, "status": status}
    if record is None:
        owner = core.get_record(w.PLATFORM, "ads_customer", client)
        core.put_record(
            w.PLATFORM,
            "ads_link",
            f"{client}|{manager}",
            {**data, "world_id": owner.data["world_id"] if owner else None},
        )
    else:
        core.set_data(record, {**record.data, **data})
    return link_id


def _link_of(resource_name: str, pattern: str) -> tuple[str, str, str]:
    match = re.fullmatch(pattern, str(resource_name or ""))
    if not match:
        raise ads_error(
            400,
            "requestError",
            "RESOURCE_NAME_MALFORMED",
            f"Invalid resource name {resource_name}.",
        )
    return match.group(1), match.group(2), match.group(3)


@_call("customers/<customer_id>/customerClientLinks:mutate")
def ads_customer_client_links(call: common.ApiCall, customer_id: str):
    """The manager's side: invite a client, or cancel/end its link."""
    role, _via = access(call, customer_id)
    manager = _customer(customer_id) or {}
    operation = _operation(common.json_body(), "operation")
    if not manager.get("manager"):
        raise link_error("INVALID_CHANGE", "Only a manager account can link client accounts.")
    if role != "ADMIN":
        raise ads_error(
            403, "authorizationError", "ACTION_NOT_PERMITTED", "Only administrators can do this."
        )
    if "create" in operation:
        create = operation["create"] or {}
        client = _digits(str(create.get("clientCustomer") or "").rsplit("/", 1)[-1])
        if create.get("status", "PENDING") != "PENDING":
            raise link_error(
                "CREATING_ENABLED_LINK_NOT_ALLOWED", "A new link must start as PENDING."
            )
        if client == customer_id:
            raise link_error("CUSTOMER_CANNOT_MANAGE_SELF", "A customer cannot manage itself.")
        if _customer(client) is None:
            raise ads_error(400, "requestError", "RESOURCE_NOT_FOUND", "Client not found.")
        existing = core.get_record(w.PLATFORM, "ads_link", f"{client}|{customer_id}")
        status = existing.data["status"] if existing else None
        if status == "PENDING":
            raise link_error(
                "ALREADY_INVITED_BY_THIS_MANAGER", "The client was already invited by this manager."
            )
        if status == "ACTIVE":
            raise link_error(
                "ALREADY_MANAGED_BY_THIS_MANAGER", "The client is already managed by this manager."
            )
        link_id = _save_link(client, customer_id, "PENDING")
        db.session.commit()
        return {
            "result": {
                "resourceName": f"customers/{customer_id}/customerClientLinks/{client}~{link_id}"
            }
        }
    update = operation.get("update")
    if not isinstance(update, dict):
        raise common.bad_request("operation needs create or update.")
    owner, client, link_id = _link_of(
        update.get("resourceName"), r"customers/(\d+)/customerClientLinks/(\d+)~(\d+)"
    )
    record = core.get_record(w.PLATFORM, "ads_link", f"{client}|{customer_id}")
    if owner != customer_id or record is None or record.data["manager_link_id"] != link_id:
        raise ads_error(400, "requestError", "RESOURCE_NOT_FOUND", "Link not found.")
    wanted, current = update.get("status"), record.data["status"]
    allowed = {("PENDING", "CANCELED"), ("ACTIVE", "INACTIVE")}
    if (current, wanted) not in allowed:
        raise link_error("INVALID_STATUS_CHANGE", f"Cannot change a {current} link to {wanted}.")
    _save_link(client, customer_id, wanted, link_id)
    db.session.commit()
    return {"result": {"resourceName": update["resourceName"]}}


@_call("customers/<customer_id>/customerManagerLinks:mutate")
def ads_customer_manager_links(call: common.ApiCall, customer_id: str):
    """The client's side: accept or refuse an invitation; either side ends a link."""
    role, via_manager = access(call, customer_id)
    update = _operation(common.json_body(), "operations").get("update")
    if not isinstance(update, dict):
        raise common.bad_request("The operation needs update.")
    owner, manager, link_id = _link_of(
        update.get("resourceName"), r"customers/(\d+)/customerManagerLinks/(\d+)~(\d+)"
    )
    record = core.get_record(w.PLATFORM, "ads_link", f"{customer_id}|{manager}")
    if owner != customer_id or record is None or record.data["manager_link_id"] != link_id:
        raise ads_error(400, "requestError", "RESOURCE_NOT_FOUND", "Link not found.")
    wanted, current = update.get("status"), record.data["status"]
    if wanted not in LINK_STATUSES:
        raise ads_error(400, "fieldError", "INVALID_VALUE", f"Unknown status {wanted}.")
    if (current, wanted) in {("PENDING", "ACTIVE"), ("PENDING", "REFUSED")}:
        if via_manager:
            raise denied()
        if role != "ADMIN":
            raise link_error(
                "NON_OWNER_USER_CANNOT_MODIFY_LINK",
                "Only an administrator of the client account can accept or refuse a link.",
            )
        call.fail_mid_grant()
    elif (current, wanted) == ("ACTIVE", "INACTIVE"):
        login = _digits(request.headers.get("login-customer-id"))
        if via_manager and login != manager:
            raise denied()
        if not via_manager and role != "ADMIN":
            raise link_error(
                "NON_OWNER_USER_CANNOT_MODIFY_LINK", "Only an administrator can end a link."
            )
    else:
        raise link_error("INVALID_STATUS_CHANGE", f"Cannot change a {current} link to {wanted}.")
    _save_link(customer_id, manager, wanted, link_id)
    db.session.commit()
    return {"results": [{"resourceName": update["resourceName"]}]}


common.register_not_found(HOST)


def set_link_status(client: str, manager: str, status: str) -> None:
    """Change a link as if someone did it in Google Ads (tests and demos). Commits."""
    record = core.get_record(w.PLATFORM, "ads_link", f"{client}|{manager}", lock=True)
    if record is None:
        raise LookupError(f"no link between {client} and {manager}")
    core.set_data(record, {**copy.deepcopy(record.data), "status": status})
    db.session.commit()


__all__ = ["HOST", "access", "set_link_status"]
