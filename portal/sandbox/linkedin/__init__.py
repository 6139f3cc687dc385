"""The emulated LinkedIn: persona worlds, its sign-in and the Marketing API."""

from __future__ import annotations

from .. import core
from . import api, oauth, organizations, world

core.register_platform(
    core.SandboxPlatform(
        id=world.PLATFORM,
        name="LinkedIn",
        scope_labels=world.SCOPE_LABELS,
        persona_descriptions=world.PERSONA_DESCRIPTIONS,
        build_world=world.build_world,
        index_world=world.index_world,
        agency_identity=world.agency_identity,
        authorize_endpoint=oauth.AUTHORIZE_ENDPOINT,
        scope_separator=" ",
        access_token_prefix="AQV",  # noqa: S106 (LinkedIn's tokens start so; not a secret)
        refresh_token_prefix="AQX",  # noqa: S106
        access_token_ttl=60 * 24 * 3600,
        refresh_token_ttl=365 * 24 * 3600,
    )
)

__all__ = ["api", "oauth", "organizations", "world"]
