"""The shape of one client's journey: its steps, and what each platform asks.

Pure functions over an access request already loaded with its agency, client
and grants: no queries, no platform calls.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask import url_for
from flask_babel import gettext as _

from .. import platforms
from ..models import AccessRequest, Grant
from ..platforms.base import AssetType, Connector, ManualStep, Permission
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
                manual_steps=list(connector.manual_steps(asset_type.id, list(item["permissions"]))),
            )
        )
    return resolved


def by_platform(ar: AccessRequest) -> list[tuple[Connector, list[RequestedItem]]]:
    groups: dict[str, list[RequestedItem]] = {}
    for item in requested_items(ar):
        groups.setdefault(item.connector.id, []).append(item)
    return [(platforms.get(p), items) for p, items in groups.items()]


def has_manual_steps(ar: AccessRequest) -> bool:
    return any(item.manual or item.manual_steps for item in requested_items(ar)) or any(
        g.manual for g in ar.grants
    )


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
    """The client has granted on this platform (whatever the outcome)."""
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
    return f"{type_name} · {grant.asset_name or grant.asset_id}"


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
    "Progress",
    "RequestedItem",
    "Step",
    "brand_colours",
    "by_platform",
    "can_retry_verification",
    "grant_label",
    "grants_of",
    "has_manual_steps",
    "in_flight",
    "needs_new_grant",
    "next_platform",
    "permission_labels",
    "platform_done",
    "progress",
    "requested_items",
    "steps",
    "uncovered_items",
]
