"""A stand-in for TikTok Business Center's catalog sharing page (the manual step).

TikTok's API shares no catalog with a partner (its description of
`/bc/partner/add/` marks `asset_type=CATALOG` not valid), so a client shares
one in Business Center: Assets → Catalogs → the catalog → Partners. This page,
at `/sandbox/tiktok/business.tiktok.com/` (Business Center's address), lets the demo's manual
step be done: it acts as the TikTok logins that signed in through the sandbox
in this browser, and lets an admin of their Business Center share one of its
catalogs with a partner Business Center, which the agency side then sees
through `GET /bc/partner/asset/get/`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import redirect, render_template_string, request, session, url_for
from flask_babel import gettext as _

from ...extensions import db
from .. import core
from ..core import bp
from . import api
from . import world as w

UI = "/tiktok/business.tiktok.com/"


def _catalogs() -> list[dict[str, Any]]:
    """Catalogs of the Business Centers administered by this browser's TikTok logins."""
    found = []
    for name, world_id in (session.get(core.SESSION_WORLDS) or {}).items():
        if not name.startswith(f"{w.PLATFORM}:"):
            continue
        if core.get_record(w.PLATFORM, "world", world_id) is None:
            continue
        world = core.world_data(w.PLATFORM, world_id)
        bc = world.get("business_center")
        if not bc or bc["user_role"] != w.BC_ADMIN:
            continue
        found += [
            {"id": a["asset_id"], "name": a["asset_name"], "bc_id": bc["bc_id"]}
            for a in w.owned_assets(world)
            if a["asset_type"] == "CATALOG"
        ]
    return found


def _roles() -> dict[str, str]:
    return {"AD_PROMOTE": _("Catalog advertiser"), "ADMIN": _("Catalog admin")}


@bp.route(UI, methods=["GET", "POST"], endpoint="tiktok_business_center_catalogs")
def catalogs_page():
    catalogs = _catalogs()
    error = None
    if request.method == "POST":
        chosen = next((c for c in catalogs if c["id"] == request.form.get("catalog_id")), None)
        partner = (request.form.get("partner_id") or "").strip()
        role = request.form.get("role", "")
        if chosen is None or role not in _roles():
            error = _("Choose a catalog and a permission.")
        elif partner == chosen["bc_id"] or core.get_record(w.PLATFORM, "business", partner) is None:
            error = _("No partner Business Center has this ID.")
        else:
            api.share(chosen["bc_id"], partner, "CATALOG", [(chosen["id"], chosen["name"])], role)
            db.session.commit()
            query = urlencode({"shared": chosen["name"]})
            return redirect(url_for("sandbox.tiktok_business_center_catalogs") + "?" + query, 303)
    page = render_template_string(
        PAGE,
        platform=core.platform(w.PLATFORM),
        catalogs=catalogs,
        roles=_roles(),
        action=url_for("sandbox.tiktok_business_center_catalogs"),
        shared=request.args.get("shared"),
        error=error,
    )
    return page, 422 if error else 200


PAGE = """{% extends "sandbox/_layout.html" %}
{% block title %}{{ _("Catalogs") }} · TikTok Business Center{% endblock %}
{% block content %}
<section class="card sandbox-card" aria-labelledby="bc-title">
  <p class="eyebrow">TikTok Business Center</p>
  <h1 id="bc-title">{{ _("Catalogs") }}</h1>
  {% if shared %}
    <p class="notice ok" role="status">{{ _("%(name)s is shared.", name=shared) }}</p>
  {% endif %}
  {% if error %}<p class="notice bad" role="alert">{{ error }}</p>{% endif %}
  {% if not catalogs %}
    <p>{{ _("This page acts as the TikTok login that signed in through the sandbox in this "
            "browser, and that login administers no catalog here. Connect TikTok from the "
            "client's link first.") }}</p>
  {% else %}
    <h2>{{ _("Add partner") }}</h2>
    <form method="post" action="{{ action }}">
      <input type="hidden" name="csrf_token" value="{{ csrf_token() }}">
      <div class="field">
        <label for="catalog_id">{{ _("Catalog") }}</label>
        <select id="catalog_id" name="catalog_id">
          {% for catalog in catalogs %}
          <option value="{{ catalog.id }}">{{ catalog.name }}</option>
          {% endfor %}
        </select>
      </div>
      <div class="field">
        <label for="partner_id">{{ _("Partner's Business Center ID") }}</label>
        <input id="partner_id" name="partner_id" required autocomplete="off" inputmode="numeric">
      </div>
      <div class="field">
        <label for="role">{{ _("Permission") }}</label>
        <select id="role" name="role">
          {% for value, label in roles.items() %}
          <option value="{{ value }}">{{ label }}</option>
          {% endfor %}
        </select>
      </div>
      <div class="actions"><button type="submit" class="primary">{{ _("Confirm") }}</button></div>
    </form>
  {% endif %}
</section>
{% endblock %}"""


__all__ = ["catalogs_page"]
