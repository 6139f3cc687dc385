"""Every route of the URL map, found automatically, has a protection rule here,
and every rule is checked with real requests. A new route is covered without
anyone remembering: until it has a rule, `test_every_route_has_a_protection_rule`
fails and says what to add.

- `ROLES`: routes that need a signed-in person. The value is the lowest role
  the view declares with `@role_required` (viewer < member < admin < owner), or
  "signed-in" for a person's own account (`@login_required`, no agency needed).
  Signed out: sent to sign-in. A lower role: 403. Another agency's ids: 404,
  and another agency's data never shows on a page.
- `API_SCOPES`: /api/v1 routes and the key scope they need (None: public).
  No key or a bad or revoked one: 401. A key without the scope: 403. Another
  agency's ids: 404.
- `PUBLIC_ENDPOINTS` (and `PUBLIC_PREFIXES`): reachable without signing in,
  with the reason. The client's link pages answer 404 to an unknown token, 404
  to another request's grant, and 429 to an address guessing tokens.
"""

from __future__ import annotations

import inspect
import re
import secrets
from datetime import timedelta

import flask_login
import pytest
from conftest import add_member

from portal.auth.session import role_required
from portal.extensions import db
from portal.models import ROLE_RANK, Grant, Invitation, Membership, Template, User
from portal.models.base import utcnow

# Arguments of id-bearing routes, and how to make an object of Acme's for each.
OBJECT_FACTORIES = {
    "request_id": "access_request",
    "membership_id": "membership",
    "invitation_id": "invitation",
    "template_id": "template",
    "client_id": "client",
    "grant_id": "grant",
    "key_id": "api_key",
    "endpoint_id": "webhook_endpoint",
    "delivery_id": "webhook_delivery",
    "tool_id": "custom_tool",
}
# Non-id arguments: a value that exists for every agency.
PLAIN_VALUES = {
    "platform": "pinterest",
    "code": "LK-2345-6789",
    "job_id": "no-such-job",
    "item_index": 0,
}
# The `<id>` of an API route, by the collection it belongs to.
API_OBJECTS = {
    "/api/v1/access-requests/": "access_request",
    "/api/v1/templates/": "template",
    "/api/v1/webhook-endpoints/": "webhook_endpoint",
}
# No /app route is public; kept empty on purpose (the check below proves it).
PUBLIC_APP_ENDPOINTS: set[str] = set()

SIGNED_IN = "signed-in"
ROLES = {
    # the person's own account and agency choice (no agency needed)
    "auth.no_agency": SIGNED_IN,
    "auth.switch_agency": SIGNED_IN,
    "auth.security": SIGNED_IN,
    "auth.password_change": SIGNED_IN,
    "auth.totp_setup": SIGNED_IN,
    "auth.totp_disable": SIGNED_IN,
    "auth.recovery_codes": SIGNED_IN,
    "auth.sign_out_everywhere": SIGNED_IN,
    # seeing the agency's work
    "admin.dashboard": "viewer",
    "admin.request_list": "viewer",
    "admin.request_detail": "viewer",
    "admin.request_report": "viewer",
    "admin.client_list": "viewer",
    "admin.client_detail": "viewer",
    "admin.template_list": "viewer",
    "admin.template_detail": "viewer",
    "admin.connections": "viewer",
    "admin.branding_logo": "viewer",
    "admin.verify_form": "viewer",
    "admin.verify_code": "viewer",
    "auth.team": "viewer",
    # sending and following requests
    "admin.api_docs": "member",
    "admin.request_new": "member",
    "admin.request_email": "member",
    "admin.request_extend": "member",
    "admin.request_regenerate": "member",
    "admin.request_revoke": "member",
    "admin.request_grant_done": "member",
    "admin.request_grant_retry": "member",
    "admin.request_grant_remove": "admin",
    "admin.client_offboard": "admin",
    # the agency's settings, integrations and records
    "admin.template_new": "admin",
    "admin.template_edit": "admin",
    "admin.template_preview": "admin",
    "admin.template_duplicate": "admin",
    "admin.template_archive": "admin",
    "admin.tool_list": "admin",
    "admin.tool_new": "admin",
    "admin.tool_edit": "admin",
    "admin.tool_archive": "admin",
    "admin.branding": "admin",
    "admin.client_export": "admin",
    "admin.client_delete": "admin",
    "admin.data_retention": "admin",
    "admin.branding_preview": "admin",
    "admin.connection_connect": "admin",
    "admin.connection_disconnect": "admin",
    "admin.connection_identities": "admin",
    "admin.api_key_list": "admin",
    "admin.api_key_create": "admin",
    "admin.api_key_revoke": "admin",
    "admin.webhook_list": "admin",
    "admin.webhook_new": "admin",
    "admin.webhook_detail": "admin",
    "admin.webhook_edit": "admin",
    "admin.webhook_delete": "admin",
    "admin.webhook_rotate": "admin",
    "admin.webhook_test": "admin",
    "admin.webhook_toggle": "admin",
    "admin.webhook_redeliver": "admin",
    "admin.audit_log": "admin",
    "admin.audit_csv": "admin",
    "admin.audit_chain": "admin",
    "admin.health": "admin",
    "admin.health_job_retry": "admin",
    "admin.health_job_discard": "admin",
    "auth.team_invite": "admin",
    "auth.team_revoke": "admin",
    "auth.team_role": "admin",
    "auth.team_remove": "admin",
    "auth.verify_email_resend": "admin",
    # the agency itself
    "auth.team_settings": "owner",
    "auth.agency_delete": "owner",
}
API_SCOPES = {
    "api.openapi_json": None,
    "api.list_platforms": "read",
    "api.list_templates": "read",
    "api.get_template": "read",
    "api.list_access_requests": "read",
    "api.get_access_request": "read",
    "api.get_access_request_report": "read",
    "api.list_webhook_endpoints": "read",
    "api.create_template": "write",
    "api.create_access_request": "write",
    "api.revoke_access_request": "write",
    "api.create_webhook_endpoint": "write",
    "api.delete_webhook_endpoint": "write",
}
LINK = "the client's link: its own 256-bit token, rate-limited per address"
PUBLIC_ENDPOINTS = {
    "main.index": "the home page",
    "main.healthz": "load-balancer probe: says only that the process is up",
    "main.set_language": "the language switcher (a CSRF-protected form)",
    "ops.readyz": "readiness probe: says whether the database and Redis answer, no data",
    "ops.metrics": "Prometheus: its own bearer token (LATCHKEY_METRICS_TOKEN), 404 when unset",
    "static": "CSS, JavaScript, fonts and images",
    "auth.login": "the sign-in form",
    "auth.login_2fa": "the second step of sign-in: needs the first step's pending session",
    "auth.logout": "signing out (a CSRF-protected form)",
    "auth.signup": "creating an agency",
    "auth.reset_request": "asking for a password reset e-mail",
    "auth.reset_password": "the reset link: its own single-use token",
    "auth.invite_accept": "the invitation link: its own single-use token",
    "auth.verify_email": "the link confirming an agency's e-mail address: its own single-use token",
    "oauth.callback": "a platform's redirect: needs the OAuth state bound to this browser",
}
PUBLIC_PREFIXES = {
    "client.": LINK,
    "sandbox.": "the emulated platforms (demo and tests only; refused in production)",
}

# Personas below the owner, lowest first.
LOWER_PERSONAS = ("viewer", "member", "admin")
# Acme's data that must never show on another agency's pages.
ACME_CLIENT = "Zanzibar Pottery Works"
ACME_CLIENT_EMAIL = "hello@zanzibar-pottery.test"


# ------------------------------------------------------------ the URL map


def _agency_rules(app):
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/app") or rule.endpoint in PUBLIC_APP_ENDPOINTS:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


# Routes that end the very session they are called in: visited last.
ENDS_SESSION = {"auth.sign_out_everywhere"}


def _rules(app, predicate):
    order = sorted(
        app.url_map.iter_rules(), key=lambda r: (r.endpoint in ENDS_SESSION, r.rule, r.endpoint)
    )
    for rule in order:
        if predicate(rule):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method


def _signed_in_rules(app):
    return _rules(app, lambda rule: rule.endpoint in ROLES)


def _api_rules(app):
    return _rules(app, lambda rule: rule.rule.startswith("/api/"))


def _link_rules(app):
    return _rules(app, lambda rule: rule.endpoint.startswith("client."))


_ROLE_CODE = role_required("viewer")(lambda: None).__code__
_LOGIN_CODE = flask_login.login_required(lambda: None).__code__


def declared_role(view) -> str | None:
    """The role a view declares with @role_required, SIGNED_IN for @login_required."""
    while view is not None:
        code = getattr(view, "__code__", None)
        if code is _ROLE_CODE:
            return inspect.getclosurevars(view).nonlocals["role"]
        if code is _LOGIN_CODE:
            return SIGNED_IN
        view = getattr(view, "__wrapped__", None)
    return None


def _public_reason(endpoint: str) -> str | None:
    if endpoint in PUBLIC_ENDPOINTS:
        return PUBLIC_ENDPOINTS[endpoint]
    return next(
        (why for prefix, why in PUBLIC_PREFIXES.items() if endpoint.startswith(prefix)), None
    )


def _what_to_add(app, endpoint: str, rule) -> str:
    where = f"{endpoint} ({rule.rule})"
    if rule.rule.startswith("/api/"):
        scope = getattr(app.view_functions[endpoint], "api_scope", "read")
        return f"{where}: add {endpoint!r}: {scope!r} to API_SCOPES"
    role = declared_role(app.view_functions[endpoint])
    if role is not None:
        return f"{where}: add {endpoint!r}: {role!r} to ROLES"
    if rule.rule.startswith("/app"):
        return (
            f"{where}: decorate the view with @role_required('<lowest role>') (or "
            "@login_required for the person's own account), then add it to ROLES"
        )
    return (
        f"{where}: protect the view with @role_required or @login_required and add it to "
        "ROLES, or add it to PUBLIC_ENDPOINTS with the reason anyone may reach it"
    )


# ---------------------------------------------------------------- objects


def _csrf(client) -> str:
    html = client.get("/", follow_redirects=True).get_data(as_text=True)
    return re.search(r'"X-CSRFToken": "([^"]+)"', html).group(1)


def _objects(agency, owner) -> dict[str, int]:
    from tests.helpers_requests import fake_connection, make_request

    fake_connection(agency)
    access_request, _token = make_request(
        agency, owner, client_name=ACME_CLIENT, client_email=ACME_CLIENT_EMAIL
    )
    other = Membership.query.filter_by(agency_id=agency.id).first()
    invitation = Invitation(
        agency_id=agency.id,
        email="new@acme.test",
        role="member",
        token_hash="i" * 64,
        expires_at=utcnow() + timedelta(days=7),
        invited_by_id=owner.id,
    )
    db.session.add(invitation)
    template = Template(agency_id=agency.id, name="Ads", items=access_request.items)
    grant = Grant(
        agency_id=agency.id,
        access_request_id=access_request.id,
        item_index=0,
        platform="pinterest",
        asset_type="TAG",
        asset_id="tag-1",
        status="needs_action",
        manual=True,
    )
    db.session.add_all([template, grant])
    db.session.commit()
    from portal.models import CustomTool

    tool = CustomTool(agency_id=agency.id, key="wordpress-t3st", name="WordPress", instructions="x")
    db.session.add(tool)
    db.session.commit()
    return {
        **_api_objects(agency),
        "custom_tool": tool.id,
        "access_request": access_request.id,
        "membership": other.id,
        "invitation": invitation.id,
        "template": template.id,
        "client": access_request.client_id,
        "grant": grant.id,
    }


def _api_objects(agency) -> dict[str, int]:
    from portal.api.keys import create_key
    from portal.models import WebhookDelivery
    from portal.webhooks import service as webhooks

    key, _plain = create_key(agency.id, "CRM")
    endpoint, _secret = webhooks.create_endpoint(
        agency.id, "https://example.com/hooks", ["*"], None, None
    )
    delivery = WebhookDelivery(
        agency_id=agency.id,
        endpoint_id=endpoint.id,
        event_id="msg_test",
        event_type="grant.verified",
        payload="{}",
    )
    db.session.add(delivery)
    db.session.commit()
    return {"api_key": key.id, "webhook_endpoint": endpoint.id, "webhook_delivery": delivery.id}


def _url(rule, ids: dict[str, int], extra: dict[str, str] | None = None) -> str:
    values = {}
    for argument in rule.arguments:
        if extra and argument in extra:
            values[argument] = extra[argument]
        elif argument in OBJECT_FACTORIES:
            values[argument] = ids[OBJECT_FACTORIES[argument]]
        elif argument in PLAIN_VALUES:
            values[argument] = PLAIN_VALUES[argument]
        elif argument == "id" and rule.rule.startswith("/api/"):
            collection = next((c for c in API_OBJECTS if rule.rule.startswith(c)), None)
            if collection is None:
                pytest.fail(f"{rule.rule}: add its collection to API_OBJECTS in this test")
            values[argument] = ids[API_OBJECTS[collection]]
        else:
            pytest.fail(f"{rule.rule}: add a factory for <{argument}> to this test")
    return rule.build(values)[1]


def _is_sign_in_redirect(response) -> bool:
    return response.status_code == 302 and response.location.startswith("/auth/login")


# ------------------------------------------------------------------ rules


def test_every_route_has_a_protection_rule(app):
    """Each endpoint is in exactly one table; the message says what to add."""
    missing, doubled = [], []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        endpoint = rule.endpoint
        tables = [
            name
            for name, present in (
                ("ROLES", endpoint in ROLES),
                ("API_SCOPES", endpoint in API_SCOPES),
                ("PUBLIC_ENDPOINTS", _public_reason(endpoint) is not None),
            )
            if present
        ]
        if not tables:
            missing.append(_what_to_add(app, endpoint, rule))
        elif len(tables) > 1:
            doubled.append(f"{endpoint}: in {' and '.join(tables)}; keep one")
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    stale = sorted((set(ROLES) | set(API_SCOPES) | set(PUBLIC_ENDPOINTS)) - endpoints)
    problems = missing + doubled + [f"{e}: no such route any more; remove its rule" for e in stale]
    assert not problems, "routes without a protection rule:\n" + "\n".join(problems)


def test_no_agency_route_is_public(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/app"):
            assert _public_reason(rule.endpoint) is None, rule.rule
            assert rule.endpoint in ROLES, _what_to_add(app, rule.endpoint, rule)
    assert not PUBLIC_APP_ENDPOINTS


def test_each_view_declares_the_role_its_rule_says(app):
    """Lowering a role in the code (or dropping the decorator) fails here."""
    wrong = []
    for endpoint, expected in sorted(ROLES.items()):
        view = app.view_functions.get(endpoint)
        if view is None:
            continue  # reported by test_every_route_has_a_protection_rule
        declared = declared_role(view)
        if declared != expected:
            wrong.append(f"{endpoint}: the view declares {declared!r}, ROLES says {expected!r}")
    for endpoint, expected in sorted(API_SCOPES.items()):
        view = app.view_functions.get(endpoint)
        if view is not None and getattr(view, "api_scope", "read") != expected:
            wrong.append(
                f"{endpoint}: the view needs {view.api_scope!r}, API_SCOPES says {expected!r}"
            )
    assert not wrong, "\n".join(wrong)


# ------------------------------------------------------------- signed out


def test_every_agency_route_sends_a_signed_out_visitor_to_sign_in(app, client, agency, owner):
    ids = _objects(agency, owner)
    token = _csrf(client)
    checked = 0
    for rule, method in _signed_in_rules(app):
        response = client.open(_url(rule, ids), method=method, headers={"X-CSRFToken": token})
        assert _is_sign_in_redirect(response), (rule.rule, method, response.status_code)
        checked += 1
    assert checked >= 15


def test_a_person_without_an_agency_reaches_only_their_own_account(
    app, client, auth, agency, owner
):
    ids = _objects(agency, owner)
    loner = User(email="loner@nowhere.test", name="Loner", password_hash="x")
    db.session.add(loner)
    db.session.commit()
    auth.login(loner)
    token = _csrf(client)
    for rule, method in _signed_in_rules(app):
        response = client.open(_url(rule, ids), method=method, headers={"X-CSRFToken": token})
        assert not _is_sign_in_redirect(response), (rule.rule, method)
        assert response.status_code < 500, (rule.rule, method, response.status_code)
        if ROLES[rule.endpoint] != SIGNED_IN:
            assert response.status_code == 302, (rule.rule, method, response.status_code)
            assert response.location.startswith("/auth/no-agency"), (rule.rule, method)


# ------------------------------------------------------------------ roles


def test_each_role_below_the_one_a_route_needs_is_refused(app, client, auth, agency, owner):
    ids = _objects(agency, owner)
    personas = {role: add_member(agency, f"{role}2@acme.test", role) for role in LOWER_PERSONAS}
    refused = 0
    for role, user in personas.items():
        auth.login(user)
        token = _csrf(client)
        for rule, method in _signed_in_rules(app):
            needed = ROLES[rule.endpoint]
            if needed == SIGNED_IN or ROLE_RANK[role] >= ROLE_RANK[needed]:
                continue
            response = client.open(_url(rule, ids), method=method, headers={"X-CSRFToken": token})
            assert response.status_code == 403, (role, rule.rule, method, response.status_code)
            refused += 1
    # viewer: member, admin and owner routes; member: admin and owner; admin: owner.
    assert refused >= 60


def test_each_role_reaches_the_pages_its_rule_allows(app, client, auth, agency, owner):
    """The rule is not stricter than it says: GET pages open for exactly that role."""
    ids = _objects(agency, owner)
    users = {role: add_member(agency, f"{role}3@acme.test", role) for role in LOWER_PERSONAS}
    users["owner"] = owner
    users[SIGNED_IN] = users["viewer"]
    # An admin may manage a viewer (not the owner, whom `ids` names).
    viewer_membership = users["viewer"].memberships[0].id
    checked = 0
    for rule, method in _signed_in_rules(app):
        if method != "GET":
            continue
        auth.login(users[ROLES[rule.endpoint]])
        response = client.get(_url(rule, ids, {"membership_id": viewer_membership}))
        assert response.status_code not in (401, 403), (rule.rule, response.status_code)
        assert not _is_sign_in_redirect(response), rule.rule
        assert response.status_code < 500, (rule.rule, response.status_code)
        checked += 1
    assert checked >= 25


def test_viewers_cannot_change_anything(app, client, auth, agency, owner, viewer):
    ids = _objects(agency, owner)
    auth.login(viewer)
    token = _csrf(client)
    # A viewer may change their own account (password, two-factor) but nothing of the agency's.
    own_account = ("/app/account/",)
    for rule, method in _agency_rules(app):
        if method != "POST" or rule.rule.startswith(own_account):
            continue
        response = client.open(_url(rule, ids), method=method, headers={"X-CSRFToken": token})
        assert response.status_code == 403, (rule.rule, method, response.status_code)


# --------------------------------------------------------- another agency


def test_every_id_bearing_route_answers_404_to_another_agency(
    app, client, auth, agency, owner, outsider
):
    ids = _objects(agency, owner)
    auth.login(outsider)
    token = _csrf(client)
    checked = 0
    for rule, method in _agency_rules(app):
        if not set(rule.arguments) & set(OBJECT_FACTORIES):
            continue
        response = client.open(_url(rule, ids), method=method, headers={"X-CSRFToken": token})
        assert response.status_code == 404, (rule.rule, method, response.status_code)
        checked += 1
    assert checked >= 5


def test_another_agencys_pages_never_show_this_agencys_data(
    app, client, auth, agency, owner, outsider
):
    ids = _objects(agency, owner)
    auth.login(outsider)
    checked = 0
    for rule, method in _signed_in_rules(app):
        if method != "GET" or set(rule.arguments) & set(OBJECT_FACTORIES):
            continue
        body = client.get(_url(rule, ids)).get_data(as_text=True)
        assert ACME_CLIENT not in body, rule.rule
        assert ACME_CLIENT_EMAIL not in body, rule.rule
        checked += 1
    assert checked >= 15


# -------------------------------------------------------------------- API


def test_every_api_route_needs_a_valid_key(app, client, agency, owner, monkeypatch):
    from portal.api.keys import create_key, revoke_key

    # Dozens of failed authentications from one address: past the usual limit.
    monkeypatch.setitem(app.config, "API_AUTH_FAILURE_LIMIT", "1000 per minute")
    ids = _objects(agency, owner)
    revoked, revoked_plain = create_key(agency.id, "old")
    revoke_key(revoked)
    db.session.commit()
    bad_keys = {
        "no key": {},
        "not a key": {"Authorization": "Bearer nonsense"},
        "unknown key": {"Authorization": f"Bearer lk_abcdefghjkmn_{secrets.token_urlsafe(32)}"},
        "revoked key": {"Authorization": f"Bearer {revoked_plain}"},
        "wrong scheme": {"Authorization": f"Basic {revoked_plain}"},
    }
    checked = 0
    for rule, method in _api_rules(app):
        if API_SCOPES.get(rule.endpoint, "read") is None:
            continue
        for name, headers in bad_keys.items():
            response = client.open(_url(rule, ids), method=method, headers=headers, json={})
            assert response.status_code == 401, (name, rule.rule, method, response.status_code)
            assert response.mimetype == "application/problem+json", (rule.rule, method)
        checked += 1
    assert checked >= 10


def test_a_read_only_key_cannot_write(app, client, agency, owner):
    from portal.api.keys import create_key

    ids = _objects(agency, owner)
    _key, plain = create_key(agency.id, "reporting", scopes=["read"])
    headers = {"Authorization": f"Bearer {plain}"}
    writes = 0
    for rule, method in _api_rules(app):
        if API_SCOPES.get(rule.endpoint) != "write":
            continue
        response = client.open(_url(rule, ids), method=method, headers=headers, json={})
        assert response.status_code == 403, (rule.rule, method, response.status_code)
        writes += 1
    assert writes >= 5


def test_every_api_id_answers_404_to_another_agencys_key(app, client, agency, owner, outsider):
    from portal.api.keys import create_key

    ids = _objects(agency, owner)
    other_agency = outsider.memberships[0].agency_id
    _key, plain = create_key(other_agency, "their CRM")
    headers = {"Authorization": f"Bearer {plain}"}
    checked = 0
    for rule, method in _api_rules(app):
        if "id" not in rule.arguments:
            continue
        response = client.open(_url(rule, ids), method=method, headers=headers, json={})
        assert response.status_code == 404, (rule.rule, method, response.status_code)
        checked += 1
    assert checked >= 5


def test_the_openapi_document_is_the_only_public_api_route(app, client):
    public = [endpoint for endpoint, scope in API_SCOPES.items() if scope is None]
    assert public == ["api.openapi_json"]
    assert client.get("/api/v1/openapi.json").status_code == 200


# ---------------------------------------------------------- the client link


def test_every_link_route_answers_404_to_an_unknown_token(app, client, agency, owner):
    ids = _objects(agency, owner)
    token = _csrf(client)
    checked = 0
    for rule, method in _link_rules(app):
        unknown = secrets.token_urlsafe(32)
        response = client.open(
            _url(rule, ids, {"token": unknown}), method=method, headers={"X-CSRFToken": token}
        )
        assert response.status_code == 404, (rule.rule, method, response.status_code)
        assert response.headers["Referrer-Policy"] == "no-referrer", rule.rule
        checked += 1
    assert checked >= 8


def test_a_link_refuses_the_grants_of_another_request(app, client, agency, owner, outsider):
    """A client's token opens only its own request's grants, not another agency's."""
    from tests.helpers_requests import make_request

    ids = _objects(agency, owner)  # Acme's grant is ids["grant"]
    other_agency = outsider.memberships[0].agency
    from tests.helpers_requests import fake_connection

    fake_connection(other_agency)
    _theirs, their_token = make_request(other_agency, outsider)
    token = _csrf(client)
    checked = 0
    for rule, method in _link_rules(app):
        if "grant_id" not in rule.arguments:
            continue
        response = client.open(
            _url(rule, ids, {"token": their_token}), method=method, headers={"X-CSRFToken": token}
        )
        assert response.status_code == 404, (rule.rule, method, response.status_code)
        checked += 1
    assert checked >= 2


def test_guessing_link_tokens_is_stopped_by_the_rate_limit(app, client, agency, owner):
    """One address trying tokens, page after page of the link, gets 429 with
    Retry-After once over the limit, for real links too; another address does not."""
    from portal.client import MISSED_LINKS_LIMIT
    from tests.helpers_requests import fake_connection, make_request

    fake_connection(agency)
    _request, real_token = make_request(agency, owner)
    allowed = int(MISSED_LINKS_LIMIT.split("/")[0])
    pages = ("", "/summary", "/steps", "/finish", "/questions", "/p/pinterest", "/logo")
    guesses = []
    for attempt in range(allowed + 5):
        page = pages[attempt % len(pages)]
        guesses.append(client.get(f"/r/{secrets.token_urlsafe(32)}{page}").status_code)
    assert guesses == [404] * allowed + [429] * 5
    assert 5 <= allowed <= 30  # a person mistyping a link is not held back

    blocked = client.get(f"/r/{secrets.token_urlsafe(32)}")
    assert blocked.status_code == 429
    assert 0 < int(blocked.headers["Retry-After"]) <= 60
    assert "Please wait" in blocked.get_data(as_text=True)
    assert blocked.headers["Referrer-Policy"] == "no-referrer"

    # The real link from the same address waits too: the limit is per address, not per token.
    for path in (f"/r/{real_token}", f"/r/{real_token}/summary"):
        assert client.get(path).status_code == 429, path

    # Someone else, elsewhere, opens their link normally.
    elsewhere = client.get(f"/r/{real_token}", environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert elsewhere.status_code == 200


def test_a_client_using_their_link_is_not_held_back(app, client, agency, owner):
    """Many pages of a real link (and its status polling) never count as guesses."""
    from tests.helpers_requests import fake_connection, make_request

    fake_connection(agency)
    _request, token = make_request(agency, owner)
    pages = ("", "/summary", "/steps", "/p/pinterest")
    statuses = {client.get(f"/r/{token}{page}").status_code for page in pages * 10}
    assert 429 not in statuses
    assert client.get(f"/r/{token}").status_code == 200
