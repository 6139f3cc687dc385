"""The emulated Search Console: its sites API and its Users and permissions page.

- `GET /sandbox/google/searchconsole.googleapis.com/webmasters/v3/sites`:
  the properties the person can see, with their `permissionLevel` spelt as
  the Search Console API's description (searchconsole v1) lists it:
  `SITE_OWNER`, `SITE_FULL_USER`, `SITE_RESTRICTED_USER`,
  `SITE_UNVERIFIED_USER`. (The older webmasters v3 description leaves it a
  free string and Google is known to answer `siteOwner`, ...: the connector
  reads both.)
- `GET|POST /sandbox/google/search.google.com/search-console/users`: a small
  stand-in for Search Console's Settings → Users and permissions, so the
  demo's manual step can be done: it acts as the Google account(s) that
  signed in through the sandbox in this browser, and lets an owner add a
  user (Full or Restricted) or an owner to one of their properties.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from email_validator import EmailNotValidError, validate_email
from flask import redirect, render_template_string, request, session, url_for
from flask_babel import gettext as _

from ...extensions import db
from .. import core
from ..core import bp
from . import common
from . import world as w

HOST = "searchconsole.googleapis.com/webmasters/v3"
SCOPES = (
    "https://www.googleapis.com/auth/webmasters.readonly",
    "https://www.googleapis.com/auth/webmasters",
)
UI = "/google/search.google.com/search-console"


# The sandbox keeps levels in Search Console's UI spelling (siteOwner, ...);
# the API answers them in its description's enum.
API_LEVELS = {
    "siteOwner": "SITE_OWNER",
    "siteFullUser": "SITE_FULL_USER",
    "siteRestrictedUser": "SITE_RESTRICTED_USER",
    "siteUnverifiedUser": "SITE_UNVERIFIED_USER",
}


@common.api_route(f"{HOST}/sites", scopes=SCOPES)
def sc_sites(call: common.ApiCall):
    entries = [
        {
            "siteUrl": record.key.split("|", 1)[0],
            "permissionLevel": API_LEVELS[record.data["permissionLevel"]],
        }
        for record in core.records_where_key(w.PLATFORM, "sc_user", suffix=f"|{call.email}")
    ]
    return {"siteEntry": entries} if entries else {}


common.register_not_found(HOST)


def add_user(site_url: str, email: str, level: str) -> None:
    """Add (or change) a user of a property, as its owner would. Commits."""
    if level not in w.SC_LEVELS[1:]:
        raise ValueError(f"unknown permission level {level!r}")
    owner = core.get_record(w.PLATFORM, "sc_site", site_url)
    if owner is None:
        raise LookupError(f"no Search Console property {site_url}")
    email = email.strip().lower()
    record = core.get_record(w.PLATFORM, "sc_user", w.key(site_url, email), lock=True)
    if record is None:
        core.put_record(
            w.PLATFORM,
            "sc_user",
            w.key(site_url, email),
            {"permissionLevel": level, "world_id": owner.data["world_id"]},
        )
    else:
        core.set_data(record, {**record.data, "permissionLevel": level})
    db.session.commit()


# --------------------------------------------------- Users and permissions page

PAGE = """{% extends "sandbox/_layout.html" %}
{% block title %}{{ _("Users and permissions") }} · Search Console{% endblock %}
{% block content %}
<section class="card sandbox-card" aria-labelledby="sc-title">
  <p class="eyebrow">Search Console</p>
  <h1 id="sc-title">{{ _("Users and permissions") }}</h1>
  {% if added %}
    <p class="notice ok" role="status">{{ _("%(email)s was added.", email=added) }}</p>
  {% endif %}
  {% if error %}<p class="notice bad" role="alert">{{ error }}</p>{% endif %}
  {% if not sites %}
    <p>{{ nobody }}</p>
  {% else %}
    <form method="get" action="{{ action }}">
      <div class="field">
        <label for="resource_id">{{ _("Property") }}</label>
        <select id="resource_id" name="resource_id">
          {% for site in sites %}
          <option value="{{ site }}" {% if site == selected %}selected{% endif %}>
            {{ site }}</option>
          {% endfor %}
        </select>
      </div>
      <button type="submit">{{ _("Show") }}</button>
    </form>
    <h2>{{ _("Users") }}</h2>
    <ul>
      {% for user in users %}
      <li>{{ user.email }} · {{ levels.get(user.level, user.level) }}</li>
      {% endfor %}
    </ul>
    <h2>{{ _("Add user") }}</h2>
    <form method="post" action="{{ action }}">
      <input type="hidden" name="csrf_token" value="{{ csrf_token() }}">
      <input type="hidden" name="resource_id" value="{{ selected }}">
      <div class="field">
        <label for="email">{{ _("Email address") }}</label>
        <input type="email" id="email" name="email" required autocomplete="off">
      </div>
      <div class="field">
        <label for="level">{{ _("Permission") }}</label>
        <select id="level" name="level">
          {% for value, label in levels.items() %}
          <option value="{{ value }}">{{ label }}</option>
          {% endfor %}
        </select>
      </div>
      <div class="actions"><button type="submit" class="primary">{{ _("Add") }}</button></div>
    </form>
  {% endif %}
</section>
{% endblock %}"""


def _owned_sites() -> list[str]:
    """Properties owned by the Google accounts this browser signed in as."""
    worlds = [
        world_id
        for name, world_id in (session.get(core.SESSION_WORLDS) or {}).items()
        if name.startswith(f"{w.PLATFORM}:")
    ]
    sites: list[str] = []
    for world_id in worlds:
        if core.get_record(w.PLATFORM, "world", world_id) is None:
            continue
        email = core.world_data(w.PLATFORM, world_id)["user"]["email"]
        for record in core.records_where_key(w.PLATFORM, "sc_user", suffix=f"|{email}"):
            if record.data["permissionLevel"] == "siteOwner":
                sites.append(record.key.split("|", 1)[0])
    return list(dict.fromkeys(sites))


def _levels() -> dict[str, str]:
    return {
        "siteFullUser": _("Full"),
        "siteRestrictedUser": _("Restricted"),
        "siteOwner": _("Owner"),
    }


@bp.route(UI + "/users", methods=["GET", "POST"], endpoint="google_search_console_users")
def users_page():
    emulated = core.platform(w.PLATFORM)
    sites = _owned_sites()
    selected = request.values.get("resource_id") or (sites[0] if sites else "")
    if selected not in sites:
        selected = sites[0] if sites else ""
    error = None
    if request.method == "POST" and selected:
        level = request.form.get("level", "")
        try:
            email = validate_email(
                request.form.get("email", ""), check_deliverability=False, test_environment=True
            ).normalized
        except EmailNotValidError:
            error = _("Enter a valid e-mail address.")
        else:
            if level not in _levels():
                error = _("Choose a permission.")
            else:
                add_user(selected, email, level)
                query = urlencode({"resource_id": selected, "added": email})
                return redirect(url_for("sandbox.google_search_console_users") + "?" + query, 303)
    users: list[dict[str, Any]] = []
    if selected:
        users = [
            {"email": r.key.split("|", 1)[1], "level": r.data["permissionLevel"]}
            for r in core.records_where_key(w.PLATFORM, "sc_user", prefix=f"{selected}|")
        ]
    page = render_template_string(
        PAGE,
        platform=emulated,
        sites=sites,
        selected=selected,
        users=users,
        levels=_levels(),
        action=url_for("sandbox.google_search_console_users"),
        added=request.args.get("added"),
        nobody=_(
            "This page acts as the Google account that signed in through the sandbox in this "
            "browser, and that account owns no Search Console property here. Connect Google "
            "from the client's link first."
        ),
        error=error,
    )
    return page, 422 if error else 200


__all__ = ["HOST", "add_user", "sc_sites", "users_page"]
