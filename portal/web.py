"""Small helpers shared by every area: htmx-aware rendering, tenant lookups."""

from __future__ import annotations

from flask import abort, g, render_template, request
from jinja2_fragments.flask import render_block

from .extensions import db
from .inputs import parse_id


def is_htmx() -> bool:
    """An htmx request that wants a fragment (not a history restore)."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def render(template: str, block: str | None = None, **context) -> str:
    """Render the whole page, or only `block` of it for an htmx request.

    The same URL thus serves the full page on reload, back or without
    JavaScript, and the fragment when htmx swaps one region.
    """
    if block and is_htmx():
        return render_block(template, block, **context)
    return render_template(template, **context)


def get_for_agency(model, object_id, agency_id: int | None = None):
    """Fetch `model` by id within the current agency; anything else is a 404."""
    agency_id = agency_id if agency_id is not None else getattr(g, "agency_id", None)
    if agency_id is None:
        abort(404)
    object_id = parse_id(object_id)  # beyond the database's range: not found either
    if object_id is None:
        abort(404)
    obj = db.session.get(model, object_id)
    if obj is None or obj.agency_id != agency_id:
        abort(404)
    return obj
