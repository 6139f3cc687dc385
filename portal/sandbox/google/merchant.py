"""The emulated Merchant API (accounts v1): accounts and their users.

Served at `/sandbox/google/merchantapi.googleapis.com/accounts/v1/...`:

- `GET accounts`: the Merchant Center accounts the person is a verified user of;
- `GET|POST accounts/{id}/users` (`?userId=<email>` to add one; admins only):
  a new user is PENDING until they accept;
- `GET|PATCH|DELETE accounts/{id}/users/{email|me}`: `me` is the caller; a
  pending user may read themselves; changes and removals are for admins,
  and the last admin cannot be removed;
- `PATCH accounts/{id}/users/me:verifySelf`: the caller accepts their own
  pending invitation.
"""

from __future__ import annotations

from typing import Any

from flask import request

from ...extensions import db
from .. import core
from . import common
from . import world as w

HOST = "merchantapi.googleapis.com/accounts/v1"
SCOPES = ("https://www.googleapis.com/auth/content",)


def _account(account_id: str) -> dict[str, Any] | None:
    found = common.owner_world("merchant_account", account_id)
    if found is None:
        return None
    return next((a for a in found[1]["merchant"] if a["id"] == account_id), None)


def _user(account_id: str, email: str):
    return core.get_record(w.PLATFORM, "merchant_user", w.key(account_id, email))


def _out(account_id: str, record) -> dict[str, Any]:
    return {
        "name": f"accounts/{account_id}/users/{record.key.split('|', 1)[1]}",
        "state": record.data["state"],
        "accessRights": record.data["access_rights"],
    }


def _caller(account_id: str, email: str, *, admin: bool = False, verified: bool = True):
    """The caller's user record on the account, or 403/404 as Google answers."""
    if _account(account_id) is None:
        raise common.not_found(f"Account accounts/{account_id} not found.")
    record = _user(account_id, email)
    if record is None or (verified and record.data["state"] != "VERIFIED"):
        raise common.permission_denied("The caller does not have access to this account.")
    if admin and "ADMIN" not in record.data["access_rights"]:
        raise common.permission_denied("This method requires admin access to the account.")
    return record


def _rights(body: dict[str, Any]) -> list[str]:
    rights = body.get("accessRights")
    if (
        not isinstance(rights, list)
        or not rights
        or any(r not in w.MERCHANT_RIGHTS for r in rights)
    ):
        raise common.bad_request(f"accessRights must list access rights, got {rights!r}.")
    return list(dict.fromkeys(rights))


@common.api_route(f"{HOST}/accounts", scopes=SCOPES)
def merchant_accounts(call: common.ApiCall):
    accounts = []
    for record in core.records_where_key(w.PLATFORM, "merchant_user", suffix=f"|{call.email}"):
        if record.data["state"] != "VERIFIED":
            continue
        account = _account(record.key.split("|", 1)[0])
        if account is not None:
            accounts.append(
                {
                    "name": f"accounts/{account['id']}",
                    "accountId": account["id"],
                    "accountName": account["name"],
                    "adultContent": False,
                    "timeZone": {"id": account["time_zone"]},
                    "languageCode": account["language"],
                }
            )
    return common.page(accounts, "accounts")


@common.api_route(f"{HOST}/accounts/<account_id>/users", scopes=SCOPES)
def merchant_list_users(call: common.ApiCall, account_id: str):
    _caller(account_id, call.email, admin=True)
    records = core.records_where_key(w.PLATFORM, "merchant_user", prefix=f"{account_id}|")
    return common.page([_out(account_id, r) for r in records], "users")


@common.api_route(f"{HOST}/accounts/<account_id>/users", methods=("POST",), scopes=SCOPES)
def merchant_create_user(call: common.ApiCall, account_id: str):
    _caller(account_id, call.email, admin=True)
    email = str(request.args.get("userId") or "").strip().lower()
    if "@" not in email:
        raise common.bad_request("userId must be the user's e-mail address.")
    rights = _rights(common.json_body())
    if _user(account_id, email) is not None:
        raise common.error(409, f"User {email} already exists in account {account_id}.")
    call.fail_mid_grant()
    owner = core.get_record(w.PLATFORM, "merchant_account", account_id)
    record = core.put_record(
        w.PLATFORM,
        "merchant_user",
        w.key(account_id, email),
        {"state": "PENDING", "access_rights": rights, "world_id": owner.data["world_id"]},
    )
    db.session.commit()
    return _out(account_id, record)


@common.api_route(
    f"{HOST}/accounts/<account_id>/users/<user>",
    methods=("GET", "PATCH", "DELETE"),
    scopes=SCOPES,
)
def merchant_user(call: common.ApiCall, account_id: str, user: str):
    email = call.email
    if user == "me:verifySelf" and request.method == "PATCH":
        record = _caller(account_id, email, verified=False)
        core.set_data(record, {**record.data, "state": "VERIFIED"})
        db.session.commit()
        return _out(account_id, record)
    target = email if user == "me" else user.strip().lower()
    if request.method == "GET":
        if target == email:
            record = _caller(account_id, email, verified=False)
        else:
            _caller(account_id, email, admin=True)
            record = _user(account_id, target)
        if record is None:
            raise common.not_found(f"User {target} not found.")
        return _out(account_id, record)
    _caller(account_id, email, admin=True)
    record = _user(account_id, target)
    if record is None:
        raise common.not_found(f"User {target} not found.")
    if request.method == "DELETE":
        admins = [
            r
            for r in core.records_where_key(w.PLATFORM, "merchant_user", prefix=f"{account_id}|")
            if "ADMIN" in r.data["access_rights"] and r.data["state"] == "VERIFIED"
        ]
        if [r.key for r in admins] == [record.key]:
            raise common.error(
                400, "The last admin of an account cannot be removed.", status="FAILED_PRECONDITION"
            )
        db.session.delete(record)
        db.session.commit()
        return {}
    if request.args.get("updateMask") not in (None, "", "accessRights", "access_rights"):
        raise common.bad_request("Only accessRights can be updated.")
    core.set_data(record, {**record.data, "access_rights": _rights(common.json_body())})
    db.session.commit()
    return _out(account_id, record)


common.register_not_found(HOST)

__all__ = ["HOST"]
