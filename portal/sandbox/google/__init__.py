"""The emulated Google: persona worlds, its sign-in and the APIs of six products.

Each product is a module of its own, serving the real paths and payload
shapes under `/sandbox/google/<host><path>`: Google Ads (`ads`), Analytics
Admin (`analytics`), Tag Manager (`tagmanager`), Merchant API (`merchant`),
Business Profile (`business_profile`) and Search Console (`search_console`,
with a stand-in for its Users and permissions page).
"""

from __future__ import annotations

from .. import core
from . import ads, analytics, business_profile, merchant, oauth, search_console, tagmanager, world

core.register_platform(
    core.SandboxPlatform(
        id=world.PLATFORM,
        name="Google",
        scope_labels=world.SCOPE_LABELS,
        persona_descriptions=world.PERSONA_DESCRIPTIONS,
        build_world=world.build_world,
        index_world=world.index_world,
        agency_identity=world.agency_identity,
        authorize_endpoint=oauth.AUTHORIZE_ENDPOINT,
        scope_separator=" ",
        access_token_prefix="ya29.",  # noqa: S106 (Google's prefix, not a secret)
        refresh_token_prefix="1//",  # noqa: S106
        # Google's access tokens live an hour; refresh tokens until revoked.
        access_token_ttl=3599,
        refresh_token_ttl=365 * 24 * 3600,
    )
)

__all__ = [
    "ads",
    "analytics",
    "business_profile",
    "merchant",
    "oauth",
    "search_console",
    "tagmanager",
    "world",
]
