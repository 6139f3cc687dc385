"""The `latchkey` command: a Flask CLI group bound to the app.

Everything `flask` offers works under it (`latchkey run`, `latchkey db upgrade`).
"""

from __future__ import annotations

import os
import sys

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import select

from .extensions import db


def _create_app(*_args, **_kwargs) -> Flask:
    from . import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app)
def main() -> None:
    """Latchkey: one branded link for agencies to get access to client accounts."""


def _agency_by_slug(slug: str):
    from .models import Agency

    agency = db.session.execute(select(Agency).where(Agency.slug == slug)).scalar_one_or_none()
    if agency is None:
        raise click.ClickException(f"no agency with slug {slug!r}")
    return agency


@click.group("agency")
def agency_group() -> None:
    """Manage agencies."""


@agency_group.command("create")
@click.option("--name", required=True, help="The agency's name.")
@click.option("--owner-email", required=True, help="The owner's sign-in e-mail.")
@click.option("--password", required=True, help="The owner's password (12+ characters).")
@click.option(
    "--connect-sandbox",
    is_flag=True,
    help="Connect the agency to every emulated platform (sandbox mode only).",
)
@with_appcontext
def agency_create(name: str, owner_email: str, password: str, connect_sandbox: bool) -> None:
    """Create an agency and its owner; prints the slug on the last line."""
    from .auth.passwords import password_problems
    from .services.agencies import AgencyError, create_agency

    problems = password_problems(password, [owner_email, name])
    if problems:
        raise click.BadParameter(" ".join(problems), param_hint="--password")
    if connect_sandbox and not current_app.config["LATCHKEY_SANDBOX"]:
        raise click.UsageError("--connect-sandbox needs LATCHKEY_SANDBOX=1")
    try:
        # Made by an operator: the address counts as confirmed.
        agency, _user = create_agency(name, owner_email, password, email_verified=True)
    except AgencyError as exc:
        raise click.ClickException(exc.message) from None
    if connect_sandbox:
        from .sandbox.connect import connect_agency_to_sandbox

        for platform in connect_agency_to_sandbox(agency):
            click.echo(f"connected {platform} (sandbox)")
    click.echo(agency.slug)


@click.group("apikey")
def apikey_group() -> None:
    """Manage API keys."""


@apikey_group.command("create")
@click.option("--agency", "slug", required=True, help="The agency's slug.")
@click.option("--name", default="CLI key", show_default=True, help="What the key is for.")
@click.option("--read-only", is_flag=True, help="Only the read scope (no create or revoke).")
@with_appcontext
def apikey_create(slug: str, name: str, read_only: bool) -> None:
    """Create an API key; prints it, once, on the last line."""
    from .api.keys import create_key
    from .audit import Actor

    agency = _agency_by_slug(slug)
    key, plain = create_key(
        agency.id,
        name,
        ["read"] if read_only else ["read", "write"],
        actor=Actor("system", None, "latchkey apikey create"),
    )
    click.echo(f"created API key {key.name!r} (lk_{key.prefix}_...) for {agency.slug}")
    click.echo(plain)


@click.group("audit")
def audit_group() -> None:
    """Inspect the audit trail."""


def _anchor(_ctx, _param, value: str | None):
    from .audit import Anchor

    if value is None:
        return None
    try:
        return Anchor.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@audit_group.command("verify")
@click.option("--agency", "slug", required=True, help="The agency's slug.")
@click.option(
    "--anchor",
    callback=_anchor,
    metavar="LENGTH:HEAD",
    help="A length and head hash the chain had (from a PDF confirmation or a webhook's "
    "latchkey-audit-length and latchkey-audit-head headers): events deleted since are reported.",
)
@with_appcontext
def audit_verify(slug: str, anchor) -> None:
    """Check the agency's audit hash chain; exit 1 if it is broken.

    Every event, its link to the one before, the chain's signed head, its
    latest stored checkpoint and the anchor given, if any.
    """
    from .audit import verify_chain

    agency = _agency_by_slug(slug)
    result = verify_chain(agency.id, anchor=anchor)
    if result.ok:
        click.echo(f"ok {result.count} events")
        return
    where = f"at event {result.broken_event_id} " if result.broken_event_id else ""
    click.echo(f"broken {where}after {result.count} good events: {result.reason}")
    sys.exit(1)


@click.group("keys")
def keys_group() -> None:
    """Encryption keys for secrets at rest."""


@keys_group.command("rotate")
@with_appcontext
def keys_rotate() -> None:
    """Re-encrypt every stored secret under the first key of LATCHKEY_ENCRYPTION_KEYS."""
    from .services.secrets import rotate_all

    count = rotate_all()
    click.echo(f"re-encrypted {count} secrets")


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option(
    "--cron/--no-cron",
    default=True,
    help="Compete for the cron lock: exactly one worker runs the periodic jobs (default on).",
)
@click.option("--queues", default="", help="Comma-separated queues (default: all).")
@with_appcontext
def worker_command(burst: bool, cron: bool, queues: str) -> None:
    """Run an RQ worker with the scheduler, on every queue."""
    from worker.runner import run_worker

    names = [q.strip() for q in queues.split(",") if q.strip()] or None
    run_worker(current_app._get_current_object(), names, burst=burst, cron=cron)


@click.command("cron")
@with_appcontext
def cron_command() -> None:
    """Run only the periodic-job scheduler (one per deployment)."""
    from worker.runner import run_cron

    run_cron(current_app._get_current_object())


@click.command("demo")
@with_appcontext
def demo_command() -> None:
    """Create a demo agency (idempotent); prints sign-in details and a client link."""
    from .services.demo import create_demo

    result = create_demo()
    click.echo("Demo agency ready.")
    click.echo(f"  Sign in at {current_app.config['LATCHKEY_BASE_URL']}/auth/login")
    click.echo(f"  e-mail:   {result['email']}")
    click.echo(f"  password: {result['password']}")
    click.echo("  A client link to try (open it in another browser or a private window):")
    click.echo(f"  {result['link']}")


def init_app(app: Flask) -> None:
    from .platforms.commands import platforms_group

    app.cli.add_command(agency_group)
    app.cli.add_command(platforms_group)
    app.cli.add_command(apikey_group)
    app.cli.add_command(audit_group)
    app.cli.add_command(keys_group)
    app.cli.add_command(worker_command)
    app.cli.add_command(cron_command)
    app.cli.add_command(demo_command)


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("FLASK_APP", "portal")
    main()
