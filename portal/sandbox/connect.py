"""Connect an agency to every emulated platform in one step (CLI and demo).

For each platform the sandbox emulates and Latchkey has a connector for, this
makes a "Business account" world named after the agency, issues a token for
it directly (no browser, no HTTP) and saves it as the agency's connection,
exactly as signing in through Connections would. Adding a platform to the
sandbox adds it here.
"""

from __future__ import annotations

from flask import current_app

from .. import platforms
from ..services.connections import get_connection, save_connection
from . import core


def connect_agency_to_sandbox(agency) -> list[str]:
    """Connect `agency` to each emulated platform; the platform ids connected.

    A working sandbox connection is kept as it is (re-running the demo must
    not orphan the grants made with it); anything else is replaced.
    """
    core.refuse_in_production(current_app.config)
    if not current_app.config.get("LATCHKEY_SANDBOX"):
        raise RuntimeError("connecting to the sandbox needs LATCHKEY_SANDBOX=1")
    connected = []
    for emulated in core.platforms():
        try:
            connector = platforms.get(emulated.id)
        except KeyError:
            continue  # emulated, but no connector yet
        if not connector.needs_agency_connection:
            continue
        if _still_connected(agency.id, emulated):
            connected.append(emulated.id)
            continue
        token = core.sandbox_token(emulated.id, core.DEFAULT_PERSONA, name=agency.name)
        world = core.world_data(emulated.id, token.pop("sandbox_world_id"))
        identity = emulated.agency_identity(world)
        save_connection(agency.id, connector, token, identity, user_id=None)
        connected.append(emulated.id)
    return connected


def _still_connected(agency_id: int, emulated: core.SandboxPlatform) -> bool:
    connection = get_connection(agency_id, emulated.id)
    if connection is None or connection.status != "active":
        return False
    business_id = (connection.identity or {}).get("business_id")
    return bool(business_id) and core.get_record(emulated.id, "business", business_id) is not None
