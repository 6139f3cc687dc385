"""The emulated Google Tag Manager API (v2): accounts, containers and user permissions.

Served at `/sandbox/google/tagmanager.googleapis.com/tagmanager/v2/...`:

- `GET accounts` (key `account`), `GET accounts/{id}/containers` (key `container`):
  what the person can see; a user sees only the containers they have access to;
- `GET|POST accounts/{id}/user_permissions` (key `userPermission`) and
  `GET|PUT|DELETE accounts/{id}/user_permissions/{id}`: account
  administrators only. A second permission for the same e-mail is 409.

Errors use the older Google shape too: `errors[]` with a `reason`
(`forbidden`, `notFound`, `badRequest`, `duplicate`).
"""

from __future__ import annotations

from typing import Any

from flask import request

from ...extensions import db
from .. import core
from . import common
from . import world as w

HOST = "tagmanager.googleapis.com/tagmanager/v2"
# The scopes the discovery document lists for accounts.list and containers.list.
READ_SCOPES = (
    "https://www.googleapis.com/auth/tagmanager.readonly",
    "https://www.googleapis.com/auth/tagmanager.edit.containers",
    "https://www.googleapis.com/auth/tagmanager.manage.accounts",
)
CONTAINER_SCOPES = READ_SCOPES[:2]
USER_SCOPES = ("https://www.googleapis.com/auth/tagmanager.manage.users",)
# Google's older error shape's `errors[].reason`: the description lists none;
# these are sandbox inventions (portal/sandbox/inventions.py), read by nobody.
REASONS = {400: "badRequest", 403: "forbidden", 404: "notFound", 409: "duplicate"}


def gtm_error(code: int, message: str) -> core.SandboxAPIError:
    body = {
        "error": {
            "code": code,
            "message": message,
            "errors": [{"message": message, "domain": "global", "reason": REASONS.get(code, "")}],
            "status": common.STATUS_NAMES.get(code, "UNKNOWN"),
        }
    }
    return core.SandboxAPIError(code, body)


def _account(account_id: str) -> dict[str, Any] | None:
    found = common.owner_world("gtm_account", account_id)
    if found is None:
        return None
    return next((a for a in found[1]["tagmanager"] if a["id"] == account_id), None)


def _permission(account_id: str, email: str):
    return core.get_record(w.PLATFORM, "gtm_permission", w.key(account_id, email))


def _visible(account_id: str, email: str) -> dict[str, Any]:
    """The account the caller has any access to (403 otherwise) and its permission."""
    account = _account(account_id)
    record = _permission(account_id, email)
    if account is None or record is None:
        raise gtm_error(403, "The caller does not have permission to access this account.")
    return account


def _require_admin(account_id: str, email: str) -> dict[str, Any]:
    account = _visible(account_id, email)
    if _permission(account_id, email).data["account_access"] != "admin":
        raise gtm_error(403, "Only account administrators can manage user permissions.")
    return account


def _account_out(account: dict[str, Any]) -> dict[str, Any]:
    return {
        "path": f"accounts/{account['id']}",
        "accountId": account["id"],
        "name": account["name"],
        "fingerprint": "1",
        "tagManagerUrl": f"https://tagmanager.google.com/#/admin/accounts/{account['id']}",
    }


def _permission_out(account_id: str, record) -> dict[str, Any]:
    data = record.data
    return {
        "path": f"accounts/{account_id}/user_permissions/{data['permission_id']}",
        "accountId": account_id,
        "emailAddress": record.key.split("|", 1)[1],
        "accountAccess": {"permission": data["account_access"]},
        "containerAccess": [
            {"containerId": cid, "permission": perm}
            for cid, perm in data["container_access"].items()
            if perm != "noAccess"
        ],
    }


@common.api_route(f"{HOST}/accounts", scopes=READ_SCOPES)
def gtm_accounts(call: common.ApiCall):
    accounts = []
    for record in core.records_where_key(w.PLATFORM, "gtm_permission", suffix=f"|{call.email}"):
        account = _account(record.key.split("|", 1)[0])
        if account is not None:
            accounts.append(_account_out(account))
    return common.page(accounts, "account")


@common.api_route(f"{HOST}/accounts/<account_id>/containers", scopes=CONTAINER_SCOPES)
def gtm_containers(call: common.ApiCall, account_id: str):
    account = _visible(account_id, call.email)
    data = _permission(account_id, call.email).data
    admin = data["account_access"] == "admin"
    containers = [
        {
            "path": f"accounts/{account_id}/containers/{c['id']}",
            "accountId": account_id,
            "containerId": c["id"],
            "name": c["name"],
            "publicId": c["public_id"],
            "usageContext": c["usage"],
            "fingerprint": "1",
            "tagManagerUrl": (
                f"https://tagmanager.google.com/#/container/accounts/{account_id}/containers/"
                f"{c['id']}"
            ),
        }
        for c in account["containers"]
        if admin or data["container_access"].get(c["id"], "noAccess") != "noAccess"
    ]
    return common.page(containers, "container")


def _validated(account: dict[str, Any], body: dict[str, Any]) -> tuple[str, dict[str, str]]:
    access = (body.get("accountAccess") or {}).get("permission")
    if access not in w.GTM_ACCOUNT_ACCESS:
        raise gtm_error(400, f"accountAccess.permission must be user or admin, got {access!r}.")
    known = {c["id"] for c in account["containers"]}
    containers: dict[str, str] = {}
    for entry in body.get("containerAccess") or ():
        cid = str((entry or {}).get("containerId") or "")
        perm = (entry or {}).get("permission")
        if cid not in known:
            raise gtm_error(400, f"Unknown container {cid}.")
        if perm not in w.GTM_CONTAINER_ACCESS:
            raise gtm_error(400, f"Unknown container permission {perm!r}.")
        containers[cid] = perm
    return access, containers


@common.api_route(f"{HOST}/accounts/<account_id>/user_permissions", scopes=USER_SCOPES)
def gtm_list_permissions(call: common.ApiCall, account_id: str):
    _require_admin(account_id, call.email)
    records = core.records_where_key(w.PLATFORM, "gtm_permission", prefix=f"{account_id}|")
    return common.page([_permission_out(account_id, r) for r in records], "userPermission")


@common.api_route(
    f"{HOST}/accounts/<account_id>/user_permissions", methods=("POST",), scopes=USER_SCOPES
)
def gtm_create_permission(call: common.ApiCall, account_id: str):
    account = _require_admin(account_id, call.email)
    body = common.json_body()
    email = str(body.get("emailAddress") or "").strip().lower()
    if "@" not in email:
        raise gtm_error(400, "emailAddress must be a Google account's e-mail address.")
    access, containers = _validated(account, body)
    if _permission(account_id, email) is not None:
        raise gtm_error(409, f"{email} already has access to this account.")
    call.fail_mid_grant()
    owner = core.get_record(w.PLATFORM, "gtm_account", account_id)
    record = core.put_record(
        w.PLATFORM,
        "gtm_permission",
        w.key(account_id, email),
        {
            "permission_id": core.new_id(8),
            "account_access": access,
            "container_access": containers,
            "world_id": owner.data["world_id"],
        },
    )
    db.session.commit()
    return _permission_out(account_id, record)


def _by_id(account_id: str, permission_id: str):
    for record in core.records_where_key(w.PLATFORM, "gtm_permission", prefix=f"{account_id}|"):
        if record.data["permission_id"] == permission_id:
            return record
    raise gtm_error(404, f"User permission {permission_id} not found.")


@common.api_route(
    f"{HOST}/accounts/<account_id>/user_permissions/<permission_id>",
    methods=("GET", "PUT", "DELETE"),
    scopes=USER_SCOPES,
)
def gtm_permission(call: common.ApiCall, account_id: str, permission_id: str):
    account = _require_admin(account_id, call.email)
    record = _by_id(account_id, permission_id)
    if request.method == "GET":
        return _permission_out(account_id, record)
    if request.method == "DELETE":
        db.session.delete(record)
        db.session.commit()
        return "", 204  # the description declares no answer body
    access, containers = _validated(account, common.json_body())
    call.fail_mid_grant()
    core.set_data(record, {**record.data, "account_access": access, "container_access": containers})
    db.session.commit()
    return _permission_out(account_id, record)


common.register_not_found(HOST)

__all__ = ["HOST"]
