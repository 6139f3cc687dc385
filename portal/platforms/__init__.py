"""The connector registry that the UI, the API and the jobs all read.

Each connector declares its real URLs. With LATCHKEY_SANDBOX on, every URL is
rewritten to the emulated platform served by this app under
`/sandbox/<platform>/<host><path>`, so the same connector, OAuth and HTTP code
runs against the sandbox in the demo and the tests.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, current_app

from .base import Connector, PlatformError

_REGISTRY: dict[str, Connector] = {}


def register(connector: Connector) -> Connector:
    _REGISTRY[connector.id] = connector
    return connector


def _load() -> None:
    if _REGISTRY:
        return
    from .pinterest import PinterestConnector

    register(PinterestConnector())
    from .meta import MetaConnector

    register(MetaConnector())
    from .tiktok import TikTokConnector

    register(TikTokConnector())
    from .linkedin import LinkedInConnector

    register(LinkedInConnector())
    from .google import GoogleConnector

    register(GoogleConnector())
    # Keep last: guided manual platforms (no OAuth, no API: the client follows
    # steps) come after the platforms Latchkey grants on through their API.
    from .manual import guided_connectors

    for guided in guided_connectors():
        register(guided)


def get(platform_id: str) -> Connector:
    """The connector for `platform_id`; KeyError for an unknown platform."""
    _load()
    return _REGISTRY[platform_id]


def all_connectors() -> list[Connector]:
    _load()
    return list(_REGISTRY.values())


def sandbox_url(base_url: str, platform_id: str, real_url: str) -> str:
    parts = urlsplit(real_url)
    return f"{base_url}/sandbox/{platform_id}/{parts.netloc}{parts.path}"


def credentials(platform_id: str) -> dict[str, str]:
    """OAuth app credentials: from the environment, or the sandbox's."""
    configured = current_app.config["PLATFORM_CREDENTIALS"].get(platform_id)
    if configured:
        return configured
    if current_app.config["LATCHKEY_SANDBOX"]:
        return {
            "client_id": f"sandbox-{platform_id}",
            "client_secret": f"sandbox-secret-{platform_id}",
        }
    raise PlatformError(
        f"{platform_id} is not set up on this Latchkey server.",
        f"An administrator must set {platform_id.upper()}_CLIENT_ID and "
        f"{platform_id.upper()}_CLIENT_SECRET.",
        code="not_configured",
    )


def init_app(app: Flask) -> None:
    """Resolve every connector's URLs once (real, or the sandbox's)."""
    _load()
    base = app.config["LATCHKEY_BASE_URL"]
    sandbox = app.config["LATCHKEY_SANDBOX"]
    urls = {}
    for connector in _REGISTRY.values():
        real = connector.real_urls
        urls[connector.id] = {
            name: sandbox_url(base, connector.id, url) if sandbox else url
            for name, url in real.items()
        }
    app.extensions["latchkey_platform_urls"] = urls


__all__ = ["Connector", "PlatformError", "all_connectors", "credentials", "get", "register"]
