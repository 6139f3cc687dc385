"""The emulated TikTok for Business: persona worlds, its sign-in and API v1.3."""

from __future__ import annotations

from .. import core
from . import api, business_center, oauth, world

core.register_platform(
    core.SandboxPlatform(
        id=world.PLATFORM,
        name="TikTok for Business",
        scope_labels=world.SCOPE_LABELS,
        persona_descriptions=world.PERSONA_DESCRIPTIONS,
        build_world=world.build_world,
        index_world=world.index_world,
        agency_identity=world.agency_identity,
        authorize_endpoint=oauth.AUTHORIZE_ENDPOINT,
        scope_separator=",",
        access_token_prefix="act.",  # noqa: S106 (a prefix, not a secret)
        refresh_token_prefix="rft.",  # noqa: S106
        # Long-term advertiser tokens do not expire (ten years stands for never).
        access_token_ttl=10 * 365 * 24 * 3600,
        refresh_token_ttl=10 * 365 * 24 * 3600,
    )
)

__all__ = ["api", "business_center", "oauth", "world"]
