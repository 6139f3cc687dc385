"""Other tools: access an agency defines itself (a CMS, a registrar, a help desk...).

Each of the agency's tools is one asset type of the platform "other" (its key
is the asset type id), with one permission, "ACCESS", labelled in the tool's
own words. Which tools exist depends on the agency: the connector reads them
for the agency in scope, which is

- the agency of the client link being served (`use_agency`, set per request),
- else the signed-in agency or API key's agency (`g.agency_id`),
- else, in jobs and commands, none: a tool is then found by its key alone
  (keys are unique across agencies), for rows already stored.

So a template or request can only name the tools of its own agency, while a
job rendering a report still finds the tool of a stored grant.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from flask import g, has_app_context
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..base import AssetType, Permission
from .base import Guide, GuideContext, GuidedConnector, ReplyField

PLATFORM_ID = "other"
ACCESS = "ACCESS"
KEY_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
KEY_MAX = 48
_CACHE = "latchkey_custom_tools"
_SCOPE: ContextVar[int | None] = ContextVar("latchkey_tool_scope", default=None)

# What the client sends back, by the tool's reply kind.
REPLY_FIELD_KINDS = {
    "text": "text",
    "code": "code",
    "number": "number",
    "email": "email",
    "url": "url",
}


# ------------------------------------------------------------------- scope


def scope_agency_id() -> int | None:
    """The agency whose tools are offered and accepted right now (None: any, by key)."""
    scoped = _SCOPE.get()
    if scoped is not None:
        return scoped
    if not has_app_context():
        return None
    client_agency = g.get("tool_agency_id")
    if client_agency is not None:
        return client_agency
    return g.get("agency_id")


@contextmanager
def agency_scope(agency_id: int) -> Iterator[None]:
    """Resolve tools for `agency_id` inside the block (jobs, commands, tests)."""
    token = _SCOPE.set(agency_id)
    try:
        yield
    finally:
        _SCOPE.reset(token)


def use_agency(agency_id: int | None) -> None:
    """For the rest of this request, tools are the agency's (the client link pages)."""
    g.tool_agency_id = agency_id


# ------------------------------------------------------------------ lookup


def _cache() -> dict:
    from ...extensions import db

    return db.session.info.setdefault(_CACHE, {})


def forget_tools() -> None:
    """Drop the tools read in this transaction (after a change to one of them)."""
    from ...extensions import db

    db.session.info.pop(_CACHE, None)


@sa_event.listens_for(Session, "after_commit")
@sa_event.listens_for(Session, "after_rollback")
def _forget_on_transaction_end(session: Session) -> None:
    # Read once per transaction: a page asks for the same tools many times.
    session.info.pop(_CACHE, None)


def tools_of(agency_id: int):
    """Every tool of the agency (archived ones too), by name."""
    from ...extensions import db
    from ...models import CustomTool

    cache = _cache()
    key = ("agency", agency_id)
    if key not in cache:
        cache[key] = list(
            db.session.execute(
                select(CustomTool)
                .where(CustomTool.agency_id == agency_id)
                .order_by(CustomTool.name, CustomTool.id)
            ).scalars()
        )
    return cache[key]


def find_tool(key: str, agency_id: int | None = None):
    """The tool with `key`, within the agency in scope (or `agency_id`); None if unknown."""
    if not isinstance(key, str) or len(key) > KEY_MAX or not KEY_RE.match(key):
        return None
    agency_id = agency_id if agency_id is not None else scope_agency_id()
    if agency_id is not None:
        return next((t for t in tools_of(agency_id) if t.key == key), None)
    from ...extensions import db
    from ...models import CustomTool

    cache = _cache()
    if ("key", key) not in cache:
        cache[("key", key)] = db.session.execute(
            select(CustomTool).where(CustomTool.key == key)
        ).scalar_one_or_none()
    return cache[("key", key)]


# --------------------------------------------------------------- connector


def reply_field(tool) -> ReplyField | None:
    kind = REPLY_FIELD_KINDS.get(tool.reply_kind or "")
    if kind is None:
        return None  # "confirmation": the client only says it is done
    return ReplyField(
        "reply",
        tool.reply_label or _l("Your answer"),
        tool.reply_hint or "",
        kind=kind,
        max_length=300 if kind in ("text", "url") else 200,
    )


def asset_type_of(tool) -> AssetType:
    explanation = tool.description or _l("What the steps for this tool set up.")
    return AssetType(
        tool.key,
        tool.name,
        (Permission(ACCESS, tool.access_label or _l("Access as described"), explanation),),
        tool.description or "",
        manual=True,
    )


class OtherToolsConnector(GuidedConnector):
    id = PLATFORM_ID
    name = _l("Other tools")
    grants_to_business = False
    agency_defined = True

    @property
    def asset_types(self) -> tuple[AssetType, ...]:  # type: ignore[override]
        """The tools offered for new templates and requests: the agency's active ones."""
        agency_id = scope_agency_id()
        if agency_id is None:
            return ()
        return tuple(asset_type_of(t) for t in tools_of(agency_id) if t.archived_at is None)

    def asset_type(self, asset_type_id: str) -> AssetType | None:
        # Archived tools still resolve: requests already sent keep their steps.
        tool = find_tool(asset_type_id)
        return asset_type_of(tool) if tool is not None else None

    def empty_hint(self) -> str:
        return _(
            "Your agency has not described any other tool yet. Add one in Other tools (admins) "
            "to ask for access to a tool Latchkey has no connector for."
        )

    def reply_fields(self, asset_type_id: str) -> tuple[ReplyField, ...]:
        tool = find_tool(asset_type_id)
        found = reply_field(tool) if tool is not None else None
        return (found,) if found is not None else ()

    def guide(self, asset_type_id: str, permissions: list[str], context: GuideContext) -> Guide:
        tool = find_tool(asset_type_id)
        agency = context.agency_name
        if tool is None:
            return Guide(
                title=asset_type_id,
                steps=[],
                fields=(),
                next_steps=[],
                agency_steps=[],
            )
        sent = context.sent_back.get("reply")
        if sent:
            check = _(
                "Check that the access works with what %(client)s sent: %(value)s.",
                client=context.client_name,
                value=sent,
            )
        else:
            check = _(
                "Check in %(tool)s that %(client)s gave you the access.",
                tool=tool.name,
                client=context.client_name,
            )
        return Guide(
            title=tool.name,
            # The description is already the explanation of the access asked.
            intro="",
            steps=tool.steps,
            fields=self.reply_fields(asset_type_id),
            next_steps=[
                _(
                    "%(agency)s then checks it and confirms here. There is nothing more for you "
                    "to do.",
                    agency=agency,
                )
            ],
            agency_steps=[check, _("Then press “Mark the step done” here.")],
            link=tool.link or None,
            link_label=_("Open %(tool)s", tool=tool.name),
            several=False,
        )
