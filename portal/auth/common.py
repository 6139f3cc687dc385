"""Helpers shared by the auth views: external links, audit events about people."""

from __future__ import annotations

import math

from flask import current_app, render_template, url_for

from .. import audit
from ..models import User


def external_url(endpoint: str, **values) -> str:
    """An absolute link for an e-mail, built from LATCHKEY_BASE_URL, never the Host header."""
    return current_app.config["LATCHKEY_BASE_URL"] + url_for(endpoint, _external=False, **values)


def user_actor(user: User) -> audit.Actor:
    return audit.Actor("user", str(user.id), user.email)


def record_for_user(
    action: str,
    user: User,
    *,
    agency_id: int | None = None,
    details: dict | None = None,
    actor: audit.Actor | None = None,
) -> None:
    """Audit an event about `user` in `agency_id`, or in each agency they belong to.

    A person without an agency gets an event in the agency-less chain, so
    nothing about an account goes unrecorded.
    """
    actor = actor or user_actor(user)
    if agency_id is not None:
        agency_ids = [agency_id]
    else:
        agency_ids = sorted({m.agency_id for m in user.memberships}) or [None]
    for target in agency_ids:
        audit.record(
            action, agency_id=target, actor=actor, subject=("user", user.id), details=details
        )


def too_many(seconds: int, kind: str = "sign_in"):
    """The 429 page: what was paused, and when to try again (also in Retry-After).

    `kind` is sign_in, reset, signup or other; it picks the explanation.
    """
    seconds = max(1, int(seconds))
    page = render_template(
        "auth/rate_limited.html", kind=kind, minutes=max(1, math.ceil(seconds / 60))
    )
    response = current_app.make_response((page, 429))
    response.headers["Retry-After"] = str(seconds)
    return response


def link_problem(code: int, title: str, detail: str, action_url: str, action_label: str):
    """A page for a link that cannot be used: what happened and the one thing to do next."""
    page = render_template(
        "auth/link_problem.html",
        title=title,
        detail=detail,
        action_url=action_url,
        action_label=action_label,
    )
    return page, code
