"""Emulated platforms for the demo and the tests (never in production).

Each platform's OAuth server and API are served on their real paths under
`/sandbox/<platform>/<host><path>`, where the connector registry points the
connectors when LATCHKEY_SANDBOX is on. Registering the blueprint in an app
with LATCHKEY_ENV=production raises `SandboxRefused`.

Importing this package defines the `sandbox_record` table (`models`), so the
schema knows it whenever the sandbox is loaded.
"""

from . import (  # each platform registers its routes on bp
    google,
    linkedin,
    meta,
    models,
    pinterest,
    tiktok,
)
from .core import SandboxRefused, bp

__all__ = ["SandboxRefused", "bp", "google", "linkedin", "meta", "models", "pinterest", "tiktok"]
