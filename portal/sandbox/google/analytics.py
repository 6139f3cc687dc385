"""The emulated Google Analytics Admin API (v1alpha): account summaries and access bindings.

Served at `/sandbox/google/analyticsadmin.googleapis.com/v1alpha/...`:

- `GET accountSummaries`: the accounts and properties the person can see;
- `GET|POST {accounts|properties}/{id}/accessBindings`: list or add who has
  access (administrators only); a second binding for the same person is
  409 ALREADY_EXISTS;
- `PATCH|DELETE {accounts|properties}/{id}/accessBindings/{binding}`: change
  or remove one (administrators only).

A role on an account applies to all its properties. Roles rank viewer <
analyst < editor < admin; the data restrictions (no-cost-data,
no-revenue-data) are kept but give no access of their own.
"""

from __future__ import annotations

from typing import Any

from flask import request

from ...extensions import db
from .. import core
from . import common
from . import world as w

HOST = "analyticsadmin.googleapis.com/v1alpha"
READ_SCOPES = (
    "https://www.googleapis.com/auth/analytics.readonly",
    "https://www.googleapis.com/auth/analytics.edit",
)
USER_READ_SCOPES = (
    "https://www.googleapis.com/auth/analytics.manage.users",
    "https://www.googleapis.com/auth/analytics.manage.users.readonly",
)
USER_WRITE_SCOPES = ("https://www.googleapis.com/auth/analytics.manage.users",)
KINDS = {"accounts": "ga_account", "properties": "ga_property"}


def _rank(roles: list[str] | tuple[str, ...]) -> int:
    return max((w.GA_ROLES.index(r) for r in roles if r in w.GA_ROLES), default=-1)


def _binding(parent: str, email: str) -> Any:
    return core.get_record(w.PLATFORM, "ga_binding", w.key(parent, email))


def _account_of(kind: str, resource_id: str) -> str | None:
    entry = core.get_record(w.PLATFORM, KINDS[kind], resource_id)
    if entry is None:
        return None
    return resource_id if kind == "accounts" else entry.data["account_id"]


def role_rank(email: str, kind: str, resource_id: str) -> int:
    """The caller's effective role on an account or property (-1: none)."""
    account_id = _account_of(kind, resource_id)
    if account_id is None:
        return -1
    ranks = []
    record = _binding(f"accounts/{account_id}", email)
    if record is not None:
        ranks.append(_rank(record.data["roles"]))
    if kind == "properties":
        record = _binding(f"properties/{resource_id}", email)
        if record is not None:
            ranks.append(_rank(record.data["roles"]))
    return max(ranks, default=-1)


def _account(account_id: str) -> dict[str, Any]:
    found = common.owner_world("ga_account", account_id)
    if found is None:
        return {}
    return next((a for a in found[1]["analytics"] if a["id"] == account_id), {})


def _summary(account: dict[str, Any], property_ids: set[str] | None) -> dict[str, Any]:
    return {
        "name": f"accountSummaries/{account['id']}",
        "account": f"accounts/{account['id']}",
        "displayName": account["display_name"],
        "propertySummaries": [
            {
                "property": f"properties/{p['id']}",
                "displayName": p["display_name"],
                "propertyType": "PROPERTY_TYPE_ORDINARY",
                "parent": f"accounts/{account['id']}",
            }
            for p in account["properties"]
            if property_ids is None or p["id"] in property_ids
        ],
    }


@common.api_route(f"{HOST}/accountSummaries", scopes=READ_SCOPES)
def ga_account_summaries(call: common.ApiCall):
    email = call.email
    whole: list[str] = []
    some: dict[str, set[str]] = {}
    for record in core.records_where_key(w.PLATFORM, "ga_binding", suffix=f"|{email}"):
        if _rank(record.data["roles"]) < 0:
            continue
        kind, resource_id = record.key.split("|", 1)[0].split("/", 1)
        if kind == "accounts":
            whole.append(resource_id)
        else:
            account_id = _account_of("properties", resource_id)
            if account_id:
                some.setdefault(account_id, set()).add(resource_id)
    summaries = [_summary(_account(a), None) for a in whole if _account(a)]
    for account_id, properties in some.items():
        if account_id not in whole and _account(account_id):
            summaries.append(_summary(_account(account_id), properties))
    return common.page(summaries, "accountSummaries")


def _require_admin(call: common.ApiCall, kind: str, resource_id: str) -> str:
    if kind not in KINDS:
        raise common.not_found()
    if role_rank(call.email, kind, resource_id) < w.GA_ROLES.index("predefinedRoles/admin"):
        raise common.permission_denied()
    return f"{kind}/{resource_id}"


def _out(record) -> dict[str, Any]:
    return {
        "name": record.data["name"],
        "user": record.key.split("|", 1)[1],
        "roles": record.data["roles"],
    }


def _roles(body: dict[str, Any]) -> list[str]:
    roles = body.get("roles")
    valid = (*w.GA_ROLES, *w.GA_EXTRA_ROLES)
    if not isinstance(roles, list) or not roles or any(r not in valid for r in roles):
        raise common.bad_request(f"roles must list predefined roles, got {roles!r}.")
    return list(dict.fromkeys(roles))


@common.api_route(f"{HOST}/<kind>/<resource_id>/accessBindings", scopes=USER_READ_SCOPES)
def ga_list_bindings(call: common.ApiCall, kind: str, resource_id: str):
    parent = _require_admin(call, kind, resource_id)
    records = core.records_where_key(w.PLATFORM, "ga_binding", prefix=f"{parent}|")
    return common.page([_out(r) for r in records], "accessBindings")


@common.api_route(
    f"{HOST}/<kind>/<resource_id>/accessBindings", methods=("POST",), scopes=USER_WRITE_SCOPES
)
def ga_create_binding(call: common.ApiCall, kind: str, resource_id: str):
    parent = _require_admin(call, kind, resource_id)
    body = common.json_body()
    user = str(body.get("user") or "").strip().lower()
    if "@" not in user:
        raise common.bad_request("user must be the e-mail address of a Google account.")
    roles = _roles(body)
    if _binding(parent, user) is not None:
        raise common.error(409, f"An access binding for {user} already exists on {parent}.")
    call.fail_mid_grant()
    owner = core.get_record(w.PLATFORM, KINDS[kind], resource_id)
    name = f"{parent}/accessBindings/{core.new_id(12)}"
    record = core.put_record(
        w.PLATFORM,
        "ga_binding",
        w.key(parent, user),
        {"name": name, "roles": roles, "world_id": owner.data["world_id"]},
    )
    db.session.commit()
    return _out(record)


def _find(parent: str, binding_id: str):
    name = f"{parent}/accessBindings/{binding_id}"
    for record in core.records_where_key(w.PLATFORM, "ga_binding", prefix=f"{parent}|"):
        if record.data["name"] == name:
            return record
    raise common.not_found(f"Access binding {name} not found.")


@common.api_route(
    f"{HOST}/<kind>/<resource_id>/accessBindings/<binding_id>",
    methods=("PATCH", "DELETE"),
    scopes=USER_WRITE_SCOPES,
)
def ga_change_binding(call: common.ApiCall, kind: str, resource_id: str, binding_id: str):
    parent = _require_admin(call, kind, resource_id)
    record = _find(parent, binding_id)
    if request.method == "DELETE":
        db.session.delete(record)
        db.session.commit()
        return {}
    roles = _roles(common.json_body())
    core.set_data(record, {**record.data, "roles": roles})
    db.session.commit()
    return _out(record)


common.register_not_found(HOST)

__all__ = ["HOST", "role_rank"]
