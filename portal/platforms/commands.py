"""`latchkey platforms ...`: API versions and their sunsets, and a probe of real credentials."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click
from flask.cli import with_appcontext

from . import versions


def _days(left: int | None) -> str:
    if left is None:
        return "-"
    return f"{left} days" if left >= 0 else f"{-left} days ago"


@click.group("platforms")
def platforms_group() -> None:
    """The platforms Latchkey calls: API versions, sunsets, credentials."""


@platforms_group.command("check")
def check() -> None:
    """Each platform's API version and its sunset; exit 1 when one is within 60 days."""
    today = datetime.now(UTC).date()
    rows = versions.report(today)
    click.echo(f"{'platform':10} {'API':24} {'version':8} {'sunset':11} {'left':13} basis")
    for version, state, left in rows:
        sunset = version.sunset.isoformat() if version.sunset else "-"
        flag = {"ok": "", "soon": "  <- upgrade soon", "past": "  <- RETIRED"}[state]
        click.echo(
            f"{version.platform:10} {version.api:24} {version.version:8} {sunset:11} "
            f"{_days(left):13} {version.basis}{flag}"
        )
    late = [v for v, state, _left in rows if state != "ok"]
    if late:
        names = ", ".join(f"{v.api} {v.version}" for v in late)
        click.echo(
            f"\n{len(late)} version(s) within {versions.WARN_DAYS} days of their sunset or past "
            f"it: {names}. Move the connector to a newer version (portal/platforms/versions.py) "
            "and check it against the platform's description.",
            err=True,
        )
        sys.exit(1)
    click.echo(f"\nall versions have more than {versions.WARN_DAYS} days left")


@platforms_group.command("probe")
@click.argument("platform")
@click.option("--agency", "slug", required=True, help="The agency whose connection to use.")
@with_appcontext
def probe(platform: str, slug: str) -> None:
    """Read-only calls with the agency's connected token: who it is, which business.

    Checks real credentials in one command: nothing is changed on the platform.
    """
    from .. import platforms
    from ..cli import _agency_by_slug
    from ..services.connections import ConnectionUnavailable, agency_access
    from .base import PlatformError

    try:
        connector = platforms.get(platform)
    except KeyError:
        ids = ", ".join(c.id for c in platforms.all_connectors() if c.needs_agency_connection)
        raise click.ClickException(f"no platform {platform!r}; one of: {ids}") from None
    if not connector.needs_agency_connection:
        raise click.ClickException(f"{connector.name} is guided: it has no API to probe")
    agency = _agency_by_slug(slug)
    version = next((v for v in versions.VERSIONS if v.platform == connector.id), None)
    click.echo(f"{connector.name} for {agency.name}")
    click.echo(f"  API:        {connector.api_base()}")
    if version:
        click.echo(f"  version:    {version.api} {version.version}")
    try:
        access = agency_access(agency.id, connector.id)
        identity = connector.agency_identity(access.token)
    except ConnectionUnavailable as exc:
        raise click.ClickException(f"{exc.message} {exc.fix}") from None
    except PlatformError as exc:
        raise click.ClickException(f"{connector.name} answered: {exc.message} {exc.fix}") from None
    click.echo("  signed in as (read from the platform just now):")
    for key, value in sorted(identity.items()):
        click.echo(f"    {key}: {value}")


__all__ = ["platforms_group"]
