"""Guided manual platforms: Snapchat, Microsoft Advertising, Shopify and the
agency's own "other tools". See `base` for how they work."""

from __future__ import annotations

from .base import (
    Guide,
    GuideContext,
    GuidedConnector,
    GuidedGrant,
    ReplyField,
    check_reply,
    guided_grant,
    is_guided,
    sent_back_rows,
)


def guided_connectors() -> list[GuidedConnector]:
    """One instance of each guided connector, for the registry."""
    from .custom import OtherToolsConnector
    from .microsoft import MicrosoftAdsConnector
    from .shopify import ShopifyConnector
    from .snapchat import SnapchatConnector

    return [SnapchatConnector(), MicrosoftAdsConnector(), ShopifyConnector(), OtherToolsConnector()]


__all__ = [
    "Guide",
    "GuideContext",
    "GuidedConnector",
    "GuidedGrant",
    "ReplyField",
    "check_reply",
    "guided_connectors",
    "guided_grant",
    "is_guided",
    "sent_back_rows",
]
