"""The shape of one client's journey: its steps, and what each platform asks.

Pure functions over an access request already loaded with its agency, client
and grants: no queries, no platform calls.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask import g, url_for
from flask_babel import gettext as _

from .. import platforms
from ..models import AccessRequest, Grant
from ..platforms.base import AssetType, Connector, ManualStep, Permission
from ..platforms.manual import Guide, GuideContext, check_reply, guided_grant, is_guided
from ..services.requests import IN_FLIGHT_GRANT_STATUSES, can_retry_verification, needs_new_grant

HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
DEFAULT_COLOUR = "#4338ca"


@dataclass(frozen=True)
class Step:
    key: str  # "welcome", "platform:<id>", "manual", "summary"
    title: str
    url: str


@dataclass
class RequestedItem:
    index: int
    connector: Connector
    asset_type: AssetType
    permissions: list[Permission]
    manual_steps: list[ManualStep] = field(default_factory=list)

    @property
    def manual(self) -> bool:
        return self.asset_type.manual


def requested_items(ar: AccessRequest, platform: str | None = None) -> list[RequestedItem]:
    """The request's items, resolved against the registry (unknown ones skipped)."""
    resolved = []
    for index, item in enumerate(ar.items):
        if platform is not None and item["platform"] != platform:
            continue
        try:
            connector = platforms.get(item["platform"])
        except KeyError:
            continue
        asset_type = connector.asset_type(item["asset_type"])
        if asset_type is None:
            continue
        permissions = [p for p in (asset_type.permission(x) for x in item["permissions"]) if p]
        resolved.append(
            RequestedItem(
                index=index,
                connector=connector,
                asset_type=asset_type,
                permissions=permissions,
                manual_steps=list(
                    connector.manual_steps(
                        asset_type.id,
                        list(item["permissions"]),
                        _agency_identity(ar, connector.id)
                        if asset_type.manual and connector.manual_steps_name_the_agency
                        else None,
                    )
                ),
            )
        )
    return resolved


def _agency_identity(ar: AccessRequest, platform: str) -> dict:
    """Who receives access on `platform`, for steps that must name it: the
    agency's connection identity over its receiving-identity settings (read
    once per request and platform, and only for connectors whose steps need it)."""
    cache = g.setdefault("agency_identities", {})
    key = (ar.agency_id, platform)
    if key not in cache:
        from ..services.connections import get_connection

        connection = get_connection(ar.agency_id, platform)
        cache[key] = {
            **dict(ar.agency.identities or {}),
            **dict((connection.identity if connection else None) or {}),
        }
    return dict(cache[key])


def by_platform(ar: AccessRequest) -> list[tuple[Connector, list[RequestedItem]]]:
    groups: dict[str, list[RequestedItem]] = {}
    for item in requested_items(ar):
        groups.setdefault(item.connector.id, []).append(item)
    return [(platforms.get(p), items) for p, items in groups.items()]


def has_manual_steps(ar: AccessRequest) -> bool:
    """Steps for "Finishing touches" (guided platforms have their own step)."""
    return any(
        (item.manual or item.manual_steps) and not is_guided(item.connector)
        for item in requested_items(ar)
    ) or any(g.manual and not is_guided(g.platform) for g in ar.grants)


def steps(ar: AccessRequest, token: str) -> list[Step]:
    result = [Step("welcome", _("Welcome"), url_for("client.welcome", token=token))]
    if ar.questions:
        result.append(
            Step("questions", _("A few questions"), url_for("client.questions", token=token))
        )
    for connector, _items in by_platform(ar):
        result.append(
            Step(
                f"platform:{connector.id}",
                connector.name,
                url_for("client.platform", token=token, platform=connector.id),
            )
        )
    if has_manual_steps(ar):
        result.append(Step("manual", _("Finishing touches"), url_for("client.manual", token=token)))
    result.append(Step("summary", _("Summary"), url_for("client.summary", token=token)))
    return result


@dataclass(frozen=True)
class Progress:
    steps: list[Step]
    current: int  # 0-based

    @property
    def number(self) -> int:
        return self.current + 1

    @property
    def total(self) -> int:
        return len(self.steps)

    @property
    def next(self) -> Step | None:
        return self.steps[self.current + 1] if self.current + 1 < len(self.steps) else None


def progress(ar: AccessRequest, token: str, key: str) -> Progress:
    all_steps = steps(ar, token)
    current = next((i for i, s in enumerate(all_steps) if s.key == key), 0)
    return Progress(all_steps, current)


def grants_of(ar: AccessRequest, platform: str | None = None) -> list[Grant]:
    return [g for g in ar.grants if platform is None or g.platform == platform]


def platform_done(ar: AccessRequest, platform: str) -> bool:
    """The client has granted on this platform (whatever the outcome).

    On a guided platform, every item asked for there has an answer: something
    sent back, or skipped.
    """
    if is_guided(platform):
        answered = {g.item_index for g in ar.grants if g.platform == platform}
        indexes = [i for i, item in enumerate(ar.items) if item["platform"] == platform]
        return bool(indexes) and all(i in answered for i in indexes)
    return any(g.platform == platform for g in ar.grants)


def next_platform(ar: AccessRequest) -> Connector | None:
    """The first platform the client has not granted on yet."""
    for connector, _items in by_platform(ar):
        if not platform_done(ar, connector.id):
            return connector
    return None


def in_flight(grants: list[Grant]) -> bool:
    return any(g.status in IN_FLIGHT_GRANT_STATUSES for g in grants)


def grant_label(grant: Grant) -> str:
    """“Ad account · Spring shop” for people."""
    try:
        asset_type = platforms.get(grant.platform).asset_type(grant.asset_type)
    except KeyError:
        asset_type = None
    type_name = str(asset_type.name) if asset_type else grant.asset_type
    name = grant.asset_name or grant.asset_id
    if not name or name == type_name:
        return type_name  # a guided item that names no asset of its own
    return f"{type_name} · {name}"


def permission_labels(grant: Grant) -> str:
    try:
        asset_type = platforms.get(grant.platform).asset_type(grant.asset_type)
    except KeyError:
        asset_type = None
    labels = []
    for permission_id in grant.permissions or []:
        permission = asset_type.permission(permission_id) if asset_type else None
        labels.append(str(permission.label) if permission else permission_id)
    return ", ".join(labels)


def uncovered_items(ar: AccessRequest) -> list[RequestedItem]:
    """Items the client has shared no asset for yet (on platforms already done)."""
    covered = {g.item_index for g in ar.grants}
    return [
        item
        for item in requested_items(ar)
        if item.index not in covered and platform_done(ar, item.connector.id)
    ]


# ------------------------------------------------------------ guided steps


@dataclass
class GuidedCard:
    """One requested item of a guided platform, as the client's page shows it."""

    item: RequestedItem
    guide: Guide
    grants: list[Grant]
    values: dict[str, str] = field(default_factory=dict)  # what was typed (after an error)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def index(self) -> int:
        return self.item.index

    @property
    def answered(self) -> bool:
        return any(g.status != "declined" for g in self.grants)

    @property
    def declined(self) -> bool:
        return bool(self.grants) and all(g.status == "declined" for g in self.grants)

    @property
    def can_send(self) -> bool:
        """The form is offered: nothing sent yet, or more than one may be shared."""
        return not self.answered or self.guide.several

    @property
    def can_correct(self) -> bool:
        """One thing per item, sent and not confirmed yet: it can still be corrected."""
        return (
            not self.guide.several
            and bool(self.guide.fields)
            and self.answered
            and all(g.status == "needs_action" for g in self.grants if g.status != "declined")
        )


def guide_context(ar: AccessRequest, connector: Connector, sent_back=None) -> GuideContext:
    return GuideContext(
        agency_name=ar.agency.brand_name,
        client_name=ar.client.name,
        identity=connector.identity_of(ar.agency),
        sent_back=dict(sent_back or {}),
    )


def guided_cards(
    ar: AccessRequest, connector: Connector, typed: dict[int, tuple[dict, dict]] | None = None
) -> list[GuidedCard]:
    """The guided platform's items with their steps, grants and any form errors."""
    typed = typed or {}
    context = guide_context(ar, connector)
    cards = []
    for item in requested_items(ar, connector.id):
        permissions = [p.id for p in item.permissions]
        values, errors = typed.get(item.index, ({}, {}))
        guide = connector.guide(item.asset_type.id, permissions, context)
        grants = [g for g in ar.grants if g.item_index == item.index]
        if not values and not guide.several:
            # Correcting the one answer: start from what was sent.
            sent = next((g for g in grants if g.status == "needs_action"), None)
            values = dict((sent.external or {}).get("sent_back") or {}) if sent else {}
        cards.append(
            GuidedCard(item=item, guide=guide, grants=grants, values=values, errors=errors)
        )
    return cards


def read_reply(
    connector: Connector, item: RequestedItem, form
) -> tuple[dict[str, str], dict[str, str], str | None, str]:
    """What the client sent for `item`: (values, errors, asset id, asset name)."""
    fields = connector.reply_fields(item.asset_type.id)
    values, errors = check_reply(fields, form)
    identifying = next((f for f in fields if f.identifies_asset), None)
    asset_id = values.get(identifying.name) if identifying else None
    asset_name = asset_id or str(item.asset_type.name)
    return values, errors, asset_id, asset_name


def brand_colours(colour: str | None) -> dict[str, str]:
    """The agency's colour for buttons, with text colours that stay readable."""
    colour = colour if colour and HEX_COLOUR.match(colour) else DEFAULT_COLOUR
    white_contrast = _contrast(colour, "#ffffff")
    dark = "#1f2330"
    ink = "#ffffff" if white_contrast >= _contrast(colour, dark) else dark
    # Links sit on white: keep the brand colour only when it is readable there.
    link = colour if white_contrast >= 4.5 else dark
    return {"brand": colour.lower(), "ink": ink, "link": link.lower()}


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


__all__ = [
    "GuidedCard",
    "Progress",
    "RequestedItem",
    "Step",
    "brand_colours",
    "by_platform",
    "can_retry_verification",
    "grant_label",
    "grants_of",
    "guide_context",
    "guided_cards",
    "guided_grant",
    "has_manual_steps",
    "in_flight",
    "is_guided",
    "needs_new_grant",
    "next_platform",
    "permission_labels",
    "platform_done",
    "progress",
    "read_reply",
    "requested_items",
    "steps",
    "uncovered_items",
]
