"""The emulated Meta: persona worlds, Facebook Login and the Graph API (v25.0)."""

from __future__ import annotations

from .. import core
from . import api, oauth, world

core.register_platform(
    core.SandboxPlatform(
        id=world.PLATFORM,
        name="Meta",
        scope_labels=world.SCOPE_LABELS,
        persona_descriptions=world.PERSONA_DESCRIPTIONS,
        build_world=world.build_world,
        index_world=world.index_world,
        agency_identity=world.agency_identity,
        authorize_endpoint=oauth.AUTHORIZE_ENDPOINT,
        scope_separator=",",
        access_token_prefix="EAAsbx",  # noqa: S106 (Meta user tokens start with EAA)
        refresh_token_prefix="sbx_unused_",  # noqa: S106 (Meta has no refresh tokens)
        # A long-lived user token: about 60 days, as Meta answers 5183944 seconds.
        access_token_ttl=5183944,
        refresh_token_ttl=5183944,
    )
)

__all__ = ["api", "oauth", "world"]
