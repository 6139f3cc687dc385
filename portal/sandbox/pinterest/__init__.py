"""The emulated Pinterest: persona worlds, its OAuth server and API v5."""

from __future__ import annotations

from .. import core
from . import api, business, oauth, world

core.register_platform(
    core.SandboxPlatform(
        id=world.PLATFORM,
        name="Pinterest",
        scope_labels=world.SCOPE_LABELS,
        persona_descriptions=world.PERSONA_DESCRIPTIONS,
        build_world=world.build_world,
        index_world=world.index_world,
        agency_identity=world.agency_identity,
        authorize_endpoint=oauth.AUTHORIZE_ENDPOINT,
        scope_separator=",",
        access_token_prefix="pina_",  # noqa: S106 (Pinterest's prefix, not a secret)
        refresh_token_prefix="pinr_",  # noqa: S106
        access_token_ttl=30 * 24 * 3600,
        refresh_token_ttl=60 * 24 * 3600,
    )
)

__all__ = ["api", "business", "oauth", "world"]
