"""The agency's own "other tools": describe, edit, archive (one function per verb).

A tool is asked for like any platform's asset type (platform "other", asset
type = the tool's key). Archiving a tool takes it out of the template editor,
the request form and the API's platform list; requests already sent keep
showing its steps, and templates that include it keep asking for it.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select

from .. import audit
from ..extensions import db
from ..inputs import web_address
from ..models import CustomTool
from ..models.base import utcnow
from ..models.tools import REPLY_KINDS
from ..platforms.manual.custom import forget_tools
from .agencies import slugify
from .requests import RequestError

MAX_STEPS = 30
FIELD_LIMITS = {
    "name": 100,
    "description": 300,
    "access_label": 100,
    "instructions": 5000,
    "link": 500,
    "reply_label": 200,
    "reply_hint": 300,
}
KEY_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"


def _text(data: Mapping, name: str) -> str:
    value = data.get(name)
    return str(value).strip() if value is not None else ""


def clean_tool(agency_id: int, data: Mapping, tool: CustomTool | None = None) -> dict:
    """Check what the agency typed; return the clean values or raise RequestError."""
    errors: list[tuple[str, str]] = []
    values = {name: _text(data, name) for name in FIELD_LIMITS}
    values["reply_kind"] = _text(data, "reply_kind") or "confirmation"
    for name, limit in FIELD_LIMITS.items():
        if len(values[name]) > limit:
            errors.append((name, _("Use at most %(n)d characters.", n=limit)))
    # One line per step: blank lines and surrounding spaces do not count.
    values["instructions"] = "\n".join(
        line.strip() for line in values["instructions"].splitlines() if line.strip()
    )
    if not values["name"]:
        errors.append(("name", _("Give the tool a name, like “WordPress” or “Domain registrar”.")))
    elif _name_taken(agency_id, values["name"], tool):
        errors.append(("name", _("You already have a tool with this name: choose another one.")))
    steps = values["instructions"].splitlines()
    if not steps:
        errors.append(("instructions", _("Write the steps the client follows, one step per line.")))
    elif len(steps) > MAX_STEPS:
        errors.append(("instructions", _("Use at most %(n)d steps.", n=MAX_STEPS)))
    if values["link"]:
        production = current_app.config["LATCHKEY_ENV"] == "production"
        if web_address(values["link"], https_only=production) is None:
            errors.append(("link", _("Enter a full web address starting with https://.")))
    if values["reply_kind"] not in REPLY_KINDS:
        errors.append(("reply_kind", _("Choose what the client sends back.")))
    elif values["reply_kind"] == "confirmation":
        values["reply_label"] = values["reply_hint"] = ""
    elif not values["reply_label"]:
        errors.append(
            (
                "reply_label",
                _("Say what the client sends back, like “Your site's admin address”."),
            )
        )
    if errors:
        raise RequestError(errors)
    return {name: (value or None) for name, value in values.items()} | {
        "name": values["name"],
        "instructions": values["instructions"],
        "reply_kind": values["reply_kind"],
    }


def _name_taken(agency_id: int, name: str, tool: CustomTool | None) -> bool:
    stmt = select(CustomTool.id).where(
        CustomTool.agency_id == agency_id,
        CustomTool.archived_at.is_(None),
        func.lower(CustomTool.name) == name.lower(),
    )
    if tool is not None:
        stmt = stmt.where(CustomTool.id != tool.id)
    return db.session.execute(stmt.limit(1)).first() is not None


def new_key(name: str) -> str:
    """A readable key, unique across agencies, that never changes: “wordpress-k3f9”."""
    base = slugify(name)[:40].strip("-") or "tool"
    while True:
        suffix = "".join(secrets.choice(KEY_ALPHABET) for _ in range(4))
        key = f"{base}-{suffix}"
        if db.session.execute(select(CustomTool.id).where(CustomTool.key == key)).first() is None:
            return key


def _audit_details(tool: CustomTool) -> dict:
    return {"name": tool.name, "key": tool.key, "reply_kind": tool.reply_kind}


def create_tool(
    agency_id: int, data: Mapping, actor: audit.Actor | None, user_id: int | None = None
) -> CustomTool:
    values = clean_tool(agency_id, data)
    tool = CustomTool(agency_id=agency_id, key=new_key(values["name"]), created_by_id=user_id)
    for name, value in values.items():
        setattr(tool, name, value)
    db.session.add(tool)
    db.session.flush()
    audit.record(
        "custom_tool.created",
        agency_id=agency_id,
        actor=actor,
        subject=("custom_tool", tool.id),
        details=_audit_details(tool),
    )
    forget_tools()
    db.session.commit()
    return tool


def update_tool(tool: CustomTool, data: Mapping, actor: audit.Actor | None) -> CustomTool:
    """Change a tool; its key (and so every template and request naming it) stays."""
    values = clean_tool(tool.agency_id, data, tool)
    for name, value in values.items():
        setattr(tool, name, value)
    audit.record(
        "custom_tool.updated",
        agency_id=tool.agency_id,
        actor=actor,
        subject=("custom_tool", tool.id),
        details=_audit_details(tool),
    )
    forget_tools()
    db.session.commit()
    return tool


def set_archived(tool: CustomTool, archived: bool, actor: audit.Actor | None) -> bool:
    if archived == (tool.archived_at is not None):
        return False
    if not archived and _name_taken(tool.agency_id, tool.name, tool):
        raise RequestError(
            [("name", _("An active tool already has this name: rename one of them first."))]
        )
    tool.archived_at = utcnow() if archived else None
    audit.record(
        "custom_tool.archived" if archived else "custom_tool.restored",
        agency_id=tool.agency_id,
        actor=actor,
        subject=("custom_tool", tool.id),
        details=_audit_details(tool),
    )
    forget_tools()
    db.session.commit()
    return True


def list_tools(agency_id: int, archived: bool = False) -> list[CustomTool]:
    stmt = select(CustomTool).where(CustomTool.agency_id == agency_id)
    if archived:
        stmt = stmt.where(CustomTool.archived_at.is_not(None))
    else:
        stmt = stmt.where(CustomTool.archived_at.is_(None))
    return list(db.session.execute(stmt.order_by(CustomTool.name, CustomTool.id)).scalars())


__all__ = ["clean_tool", "create_tool", "list_tools", "new_key", "set_archived", "update_tool"]
