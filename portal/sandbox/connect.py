"""Connect an agency to every emulated platform in one step (CLI and demo).

For each platform the sandbox emulates and Latchkey has a connector for, this
makes a "Business account" world named after the agency, issues a token for
it directly (no browser, no HTTP) and saves it as the agency's connection,
exactly as signing in through Connections would. Adding a platform to the
sandbox adds it here.
"""

from __future__ import annotations

from cryptography.fernet import InvalidToken
from flask import current_app

from .. import crypto, platforms
from ..models.base import utcnow
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
    """The agency's saved connection still signs in to the emulated platform.

    Checked through the tokens themselves (a live refresh or access token of
    the sandbox), so it holds whatever the identity is: a business on
    Pinterest or Meta, a person on LinkedIn or Google.
    """
    connection = get_connection(agency_id, emulated.id)
    if connection is None or connection.status != "active":
        return False
    now = utcnow()
    for kind, encrypted in (
        ("refresh_token", connection.refresh_token_encrypted),
        ("access_token", connection.access_token_encrypted),
    ):
        if not encrypted:
            continue
        try:
            secret = crypto.decrypt(encrypted)
        except InvalidToken:
            continue  # saved under a key that is gone: connect again
        record = core.get_record(emulated.id, kind, core.token_hash(secret))
        if record is not None and (record.expires_at is None or record.expires_at > now):
            return True
    return False
