"""The emulated LinkedIn's Company Pages: organizations and their role ACLs.

`GET /rest/organizations/{id}`, the `/rest/organizationAcls` finders
(roleAssignee, organization) and `PUT /rest/organizationAcls/(organization:
...,role:...,roleAssignee:...)`, LinkedIn's only write method on Page roles:
the whole OrganizationAcl, its state APPROVED or REVOKED (LinkedIn's page
"Organization Access Control by Role", transcribed in
tests/platform_specs/linkedin/operations.json).
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from ...extensions import db
from .. import core
from . import world as w
from .api import (
    READ_ORGANIZATIONS,
    WRITE_ORGANIZATIONS,
    ApiCall,
    _collection,
    _fail_once,
    _id_from,
    _json_body,
    _key,
    _written,
    api_route,
    error,
)


def _acl_state(org_id: str, role: str, person: str) -> str | None:
    entry = core.get_record(w.PLATFORM, "org_acl", w.acl_key(org_id, role, person))
    return entry.data["state"] if entry else None


def _is_page_admin(org_id: str, person: str) -> bool:
    return _acl_state(org_id, "ADMINISTRATOR", person) == "APPROVED"


def _acl(org_id: str, role: str, person: str, state: str) -> dict[str, Any]:
    return {
        "organization": w.ORGANIZATION_URN + org_id,
        "role": role,
        "roleAssignee": w.PERSON_URN + person,
        "state": state,
    }


# ------------------------------------------------------------ organizations


@api_route("/organizations/<org_id>", scopes=READ_ORGANIZATIONS)
def organization(call: ApiCall, org_id: str):
    entry = core.get_record(w.PLATFORM, "organization", org_id)
    if entry is None:
        raise error(404, "NOT_FOUND", f"Organization {org_id} does not exist.")
    owner = core.world_data(w.PLATFORM, entry.data["world_id"])
    return jsonify(owner["organization"])


@api_route("/organizationAcls", scopes=READ_ORGANIZATIONS)
def organization_acls(call: ApiCall):
    finder = request.args.get("q")
    role_filter = request.args.get("role")
    state_filter = request.args.get("state")
    if finder == "roleAssignee":
        records = core.records_where_key(w.PLATFORM, "org_acl", suffix=":" + call.person)
    elif finder == "organization":
        org_id = _id_from(request.args.get("organization") or "", w.ORGANIZATION_URN)
        if not _is_page_admin(org_id, call.person):
            raise error(
                403,
                "ACCESS_DENIED",
                "Only administrators of this organization can list its roles.",
                100,
            )
        records = core.records_where_key(w.PLATFORM, "org_acl", prefix=org_id + ":")
    else:
        raise error(400, "ILLEGAL_ARGUMENT", "q must be roleAssignee or organization.")
    elements = []
    for record in records:
        org_id, role, person = record.key.split(":")
        state = record.data["state"]
        if (role_filter and role != role_filter) or (state_filter and state != state_filter):
            continue
        elements.append(_acl(org_id, role, person, state))
    return jsonify(_collection(elements))


@api_route("/organizationAcls/<path:key>", methods=("PUT",), scopes=WRITE_ORGANIZATIONS)
def put_organization_acl(call: ApiCall, key: str):
    parts = _key(key, ("organization", "role", "roleAssignee"))
    org_id = _id_from(parts["organization"], w.ORGANIZATION_URN)
    person = _id_from(parts["roleAssignee"], w.PERSON_URN)
    role = parts["role"]
    if core.get_record(w.PLATFORM, "organization", org_id) is None:
        raise error(404, "NOT_FOUND", f"Organization {org_id} does not exist.")
    if role not in w.ORGANIZATION_ROLES:
        raise error(
            400, "ILLEGAL_ARGUMENT", f"role must be one of {', '.join(w.ORGANIZATION_ROLES)}."
        )
    # PUT replaces the whole OrganizationAcl: LinkedIn's page shows the four
    # fields, and they must name the same role as the key.
    body = _json_body()
    expected = {
        "organization": w.ORGANIZATION_URN + org_id,
        "role": role,
        "roleAssignee": w.PERSON_URN + person,
    }
    missing = [f for f in (*expected, "state") if f not in body]
    if missing:
        raise error(
            400,
            "ILLEGAL_ARGUMENT",
            f"PUT replaces the whole entity: the body lacks {', '.join(missing)}.",
        )
    if any(body[f] != value for f, value in expected.items()):
        raise error(400, "ILLEGAL_ARGUMENT", "The body's fields must match the key.")
    state = body["state"]
    # *Sandbox choice*: of LinkedIn's role states, a PUT may set APPROVED (give
    # the role) or REVOKED (take it away); REQUESTED and REJECTED are a member's
    # request and its answer, which this sandbox does not emulate.
    if state not in ("APPROVED", "REVOKED"):
        raise error(400, "ILLEGAL_ARGUMENT", "state must be APPROVED or REVOKED.")
    # *Sandbox assumption*: a member may give up their own role; only a super
    # admin (ADMINISTRATOR) may change anyone else's.
    if not (state == "REVOKED" and person == call.person) and not _is_page_admin(
        org_id, call.person
    ):
        raise error(
            403,
            "ACCESS_DENIED",
            "Not enough permissions to access: organizationAcls.PUT. Only a super admin "
            "(ADMINISTRATOR) of this Page can change its roles.",
            100,
        )
    _fail_once(call)
    if core.get_record(w.PLATFORM, "person", person) is None:
        raise error(400, "ILLEGAL_ARGUMENT", f"Member {w.PERSON_URN}{person} does not exist.")
    key_ = w.acl_key(org_id, role, person)
    entry = core.get_record(w.PLATFORM, "org_acl", key_, lock=True)
    if state == "REVOKED":
        if entry is None:
            raise error(
                404, "NOT_FOUND", f"{w.PERSON_URN}{person} has no {role} role on this Page."
            )
        db.session.delete(entry)
        db.session.commit()
        return Response(status=204)
    if entry is None:
        core.put_record(w.PLATFORM, "org_acl", key_, {"state": "APPROVED"})
    else:
        core.set_data(entry, {**entry.data, "state": "APPROVED"})
    db.session.commit()
    return _written(entry is None)
