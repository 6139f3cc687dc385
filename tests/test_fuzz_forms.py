"""Form fuzzer: every route of the URL map gets hostile text in every form
field and query parameter, and no answer is a 5xx.

The routes are walked three ways: signed in as the agency's owner (the
agency area), anonymously (sign-in, reset, sign-up, language), and on a
client link (`/r/<token>/...`). Each page is fetched first with real ids;
the forms and links it shows name the fields and parameters to fuzz (plus a
set every list or filter understands). Each value is then replaced by hostile
text: a NUL byte, CR/LF, 100,000 characters, invalid UTF-8 (percent-encoded),
huge and negative numbers, an out-of-range date; and each URL segment too.

Nothing already saved may be lost: a refused request (4xx) changes no row of
the agency's data, and another agency's rows never change at all.

The API is fuzzed from its schema (test_api_schemathesis.py); its query
parameters are covered here too. The emulated platforms (sandbox) are not
part of the product and are left out.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote, urlsplit

import pytest
from conftest import PASSWORD, add_member, make_agency
from helpers_fuzz import Form, changed, digest, read_page
from helpers_requests import PINTEREST_ITEMS, add_grant, fake_connection, make_request

from portal import crypto, inputs
from portal.extensions import db, limiter
from portal.models import Agency, CustomTool, Invitation, PasswordReset, Template, User
from portal.models.base import utcnow

pytestmark = pytest.mark.usefixtures("_fuzz_settings")

HOSTILE = {
    "nul": "fuzz\x00@example.test",  # looks enough like an e-mail to reach a lookup
    "crlf": "x\r\nSet-Cookie: fuzz=1",
    "long": "A" * 100_000,
    "huge": "99999999999999999999",
    "negative": "-99999999999999999999",
    "minus_one": "-1",
    "date": "9999-12-31",
}
INVALID_UTF8 = "%C3%28%FF%FE%ED%A0%80"  # sent as is: percent-encoded bytes that are not UTF-8
KINDS = (*HOSTILE, "utf8")  # every field or parameter at once
PATH_KINDS = ("nul", "huge", "utf8")  # URL segments: ids and strings
POST_KINDS = tuple(k for k in KINDS if k != "date")  # dates are only filters
# One field at a time, the others as the page filled them: what gets past
# validation with one odd value (all fields at once cover the rest).
FIELD_KINDS = ("nul", "huge")

# Parameters lists, filters and pages read, beyond those a page's links show.
COMMON_PARAMS = (
    "page", "per_page", "q", "next", "sort", "status", "platform", "show",
    "template_id", "client_id", "request_id", "since", "until", "actor", "action",
    "code", "state", "error", "external_id", "cursor", "limit",
)  # fmt: skip
SKIPPED_ENDPOINTS = {
    "static",
    # They end the fuzzer's own session and read no field (tests/test_auth_*.py).
    "auth.logout",
    "auth.sign_out_everywhere",
}


# ------------------------------------------------------------------ fixtures


@pytest.fixture
def _fuzz_settings(monkeypatch):
    # Rate limits are tested elsewhere; here every request must reach its view.
    monkeypatch.setattr(limiter, "enabled", False)


@dataclass
class World:
    """What the fuzzer's URLs point at: real rows of the agency under test."""

    agency: Agency
    owner: User
    args: dict[str, object]
    link: str  # the client link's token
    other_agency_id: int


def _build_world() -> World:
    agency, owner = make_agency("Acme Agency", "owner@acme.test")
    member = add_member(agency, "member@acme.test", "member")
    fake_connection(agency)
    tool = CustomTool(
        agency_id=agency.id,
        key="wordpress-k3f9",
        name="WordPress",
        instructions="Open the admin.\nAdd the user.",
        reply_kind="url",
        reply_label="Your site's admin address",
    )
    template = Template(
        agency_id=agency.id,
        name="Ads",
        items=[PINTEREST_ITEMS[0]],
        message="Hello",
        questions=[
            {"id": "q1", "label": "Budget?", "kind": "long_text", "required": False, "choices": []}
        ],
    )
    db.session.add_all([tool, template])
    db.session.commit()
    other_tool = {"platform": "other", "asset_type": tool.key, "permissions": ["ACCESS"]}
    items = [*PINTEREST_ITEMS, other_tool]
    access_request, token = make_request(agency, owner, items=items, template=template)
    db.session.commit()
    grant = add_grant(access_request, 0, status="failed")
    from portal.api.keys import create_key
    from portal.webhooks import service as webhooks

    key, _secret = create_key(agency.id, "CRM", ["read", "write"])
    endpoint, _whsec = webhooks.create_endpoint(
        agency.id, "http://127.0.0.1:9/hooks", ["*"], "CRM", None
    )
    delivery = webhooks.send_test(endpoint, None)
    invite_token = crypto.new_token()
    invitation = Invitation(
        agency_id=agency.id,
        email="new@acme.test",
        role="member",
        token_hash=crypto.token_hash(invite_token),
        invited_by_id=owner.id,
        expires_at=utcnow() + timedelta(days=7),
    )
    reset_token = crypto.new_token()
    reset = PasswordReset(
        user_id=member.id,
        token_hash=crypto.token_hash(reset_token),
        expires_at=utcnow() + timedelta(days=7),
    )
    db.session.add_all([invitation, reset])
    db.session.commit()
    # Another agency, with data of its own, that the fuzzer never signs in to.
    other, other_owner = make_agency("Other Agency", "owner@other.test")
    fake_connection(other)
    make_request(other, other_owner, client_name="Their Client", client_email="c@other.test")
    db.session.commit()
    args = {
        "request_id": access_request.id,
        "grant_id": grant.id,
        "client_id": access_request.client_id,
        "template_id": template.id,
        "tool_id": tool.id,
        "endpoint_id": endpoint.id,
        "delivery_id": delivery.id,
        "key_id": key.id,
        "membership_id": member.memberships[0].id,
        "invitation_id": invitation.id,
        "item_index": 2,
        "platform": "pinterest",
        "job_id": "no-such-job",
        "code": "ABCD-EFGH",
        "invite_token": invite_token,
        "reset_token": reset_token,
    }
    return World(agency, owner, args, token, other.id)


# -------------------------------------------------------------- the fuzzer


CSRF_FIELD = "csrf_token"
_CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"|"X-CSRFToken": "([^"]+)"')


PLAUSIBLE = (  # a value for an empty required field, so one hostile field gets past the others
    ("current", PASSWORD),
    ("password", "violet tractor umbrella 77 pancake"),
    ("confirm", "violet tractor umbrella 77 pancake"),
    ("email", "fuzz@example.test"),
    ("url", "https://example.test/"),
    ("link", "https://example.test/"),
    ("days", "14"),
    ("color", "#4338ca"),
    ("locale", "en"),
    ("role", "member"),
    ("code", "123456"),
)


def _plausible(name: str, value: str) -> str:
    if value:
        return value
    return next((v for key, v in PLAUSIBLE if key in name), "Fuzz")


def _encode(
    pairs: list[tuple[str, str]], hostile: set[str] | None, kind: str, *, query: bool = False
) -> str:
    """A urlencoded body or query: the fields in `hostile` (all but the CSRF token if
    None) get `kind`. In a query string, the 100,000 characters are shared among the
    parameters (real servers refuse request lines beyond a few kilobytes anyway)."""
    out = []
    hostile_value = HOSTILE.get(kind, "")
    if query and kind == "long":
        hostile_value = hostile_value[: len(hostile_value) // max(len(pairs), 1)]
    for name, value in pairs:
        if (hostile is None and name != CSRF_FIELD) or (hostile and name in hostile):
            value_enc = INVALID_UTF8 if kind == "utf8" else quote(hostile_value, safe="")
        else:
            value_enc = quote(value, safe="")
        out.append(f"{quote(name, safe='')}={value_enc}")
    return "&".join(out)


@dataclass
class Visitor:
    """A test client as one kind of visitor, with its CSRF token. Before each
    route it starts afresh: the owner signs in again, anyone else comes back
    without cookies (a route before may have signed them in: an invitation)."""

    client: object
    sign_in: object = None  # signs the owner in again, or None
    token_page: str = "/auth/login"
    csrf: str = ""

    def ready(self) -> None:
        if self.sign_in is not None:
            self.sign_in()
        else:
            self.client = self.client.application.test_client()
        page = self.client.get(self.token_page).get_data(as_text=True)
        match = _CSRF.search(page)
        self.csrf = (match.group(1) or match.group(2)) if match else ""


class Fuzzer:
    def __init__(self, world: World):
        self.world = world
        self.failures: list[str] = []
        self.calls = 0
        self.changes = 0  # requests that changed saved data (accepted ones may)
        self.forms_seen: dict[tuple[str, str], Form] = {}
        self.all_fields: set[str] = set()
        self._before: dict[str, str] | None = None

    # --- sending

    def send(self, visitor: Visitor, method: str, path: str, pairs=None, *, query="", hx=False):
        headers = {"HX-Request": "true"} if hx else {}
        if method == "post" and self._before is None:
            self._before = digest(but_agency=self.world.other_agency_id)
        self.calls += 1
        sent = f"{path}?{query[:80]}" if query else path
        label = f"{method.upper()} {sent} {(pairs or '')[:100]!r}"
        response = None
        try:
            response = visitor.client.open(
                path,
                method=method.upper(),
                data=pairs if method == "post" else None,
                query_string=query,
                content_type="application/x-www-form-urlencoded" if method == "post" else None,
                headers=headers,
            )
            response.get_data()  # a streamed answer (CSV) fails while it is sent
            status = response.status_code
        except Exception as exc:
            status = 500
            label = f"{label} ({type(exc).__name__}: {str(exc)[:100]})"
        finally:
            db.session.rollback()  # the test shares the app context: no failed transaction lingers
        if status >= 500 and not (status == 503 and path == "/readyz"):
            self.failures.append(f"{status} {label}")
        if method == "post":
            after = digest(but_agency=self.world.other_agency_id)
            tables = changed(self._before, after)
            if 400 <= status < 500 and tables:
                self.failures.append(f"refused ({status}) but changed {tables}: {label}")
            self.changes += bool(tables)
            self._before = after
        else:
            self._before = None
        location = response.headers.get("Location", "") if response is not None else ""
        if "/auth/login" in location and visitor.sign_in:
            visitor.ready()  # signed out (or the session ended): sign in again
        return response

    # --- discovery

    def url_for_rule(self, rule, values: dict) -> str:
        path = rule.rule
        for name in rule.arguments:
            path = re.sub(rf"<(?:[a-z]+(?:\([^)]*\))?:)?{name}>", str(values.get(name, "x")), path)
        return path

    def real_args(self, rule) -> dict:
        args = dict(self.world.args)
        if rule.rule.startswith("/r/"):
            args["token"] = self.world.link
            if "item_index" in rule.arguments:
                args["platform"] = "other"
        elif rule.rule.startswith("/auth/invite/"):
            args["token"] = self.world.args["invite_token"]
        elif rule.rule.startswith("/auth/reset/"):
            args["token"] = self.world.args["reset_token"]
        if rule.rule.startswith("/api/"):
            args["id"] = {
                "/api/v1/templates": self.world.args["template_id"],
                "/api/v1/webhook-endpoints": self.world.args["endpoint_id"],
            }.get(rule.rule.rsplit("/<", 1)[0], self.world.args["request_id"])
        return args

    def hostile_args(self, rule, kind: str) -> dict:
        value = INVALID_UTF8 if kind == "utf8" else quote(HOSTILE[kind], safe="")
        args = {}
        for name in rule.arguments:
            is_id = isinstance(rule._converters[name], inputs.IdConverter)
            args[name] = HOSTILE["huge"] if is_id else value
        return args

    def collect(self, html: str, page: str) -> set[str]:
        found = read_page(html, page)
        for form in found.forms:
            action = urlsplit(form.action).path or page
            key = (form.method, action)
            known = self.forms_seen.setdefault(key, Form(action, form.method, htmx=form.htmx))
            known.merge(form)
            self.all_fields.update(n for n, _v in form.sent() if n != CSRF_FIELD)
            if form.method == "get":
                found.params.update(n for n, _v in form.fields)
        return found.params

    # --- one route

    def fuzz_get(self, visitor: Visitor, rule) -> None:
        path = self.url_for_rule(rule, self.real_args(rule))
        if not path.endswith(".pdf"):  # a PDF takes long to make and reads no parameter
            self._get_page(visitor, rule, path)
        for kind in PATH_KINDS if rule.arguments else ():
            self.send(visitor, "get", self.url_for_rule(rule, self.hostile_args(rule, kind)))

    def _get_page(self, visitor: Visitor, rule, path: str) -> None:
        response = self.send(visitor, "get", path)
        params = set(COMMON_PARAMS)
        if response is not None and response.mimetype == "text/html":
            params |= self.collect(response.get_data(as_text=True), path)
        pairs = [(name, "") for name in sorted(params)]
        for kind in KINDS:
            self.send(visitor, "get", path, query=_encode(pairs, None, kind, query=True))

    def fuzz_post(self, visitor: Visitor, rule) -> None:
        path = self.url_for_rule(rule, self.real_args(rule))
        form = self.forms_seen.get(("post", path))
        if form:
            pairs = [
                (n, _plausible(n, v) if n in form.required else v)
                for n, v in form.sent()
                if n != CSRF_FIELD
            ]
        else:
            pairs = [(n, "") for n in sorted(self.all_fields)]
        hx = bool(form and form.htmx)
        buttons = form.buttons if form else {}

        def body(hostile, kind):
            button = [(n, v) for n, v in buttons.items() if n in (hostile or ())]
            return _encode([(CSRF_FIELD, visitor.csrf), *pairs, *button], hostile, kind)

        for kind in POST_KINDS:
            self.send(visitor, "post", path, body(None, kind), hx=hx)
        for kind in PATH_KINDS if rule.arguments else ():
            hostile_path = self.url_for_rule(rule, self.hostile_args(rule, kind))
            self.send(visitor, "post", hostile_path, body(None, kind), hx=hx)
        if form:
            names = dict.fromkeys([CSRF_FIELD, *(n for n, _v in pairs), *buttons])
            for name in names:
                multiline = ("crlf",) if inputs.is_multiline_field(name) else ()
                for kind in (*FIELD_KINDS, *multiline):
                    self.send(visitor, "post", path, body({name}, kind), hx=hx)


def _rules(app, prefix_ok) -> list:
    rules = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in SKIPPED_ENDPOINTS or rule.endpoint.startswith("sandbox."):
            continue
        if prefix_ok(rule.rule):
            rules.append(rule)
    return sorted(rules, key=lambda r: r.rule)


ENDINGS = ("/archive", "/delete", "/disconnect", "/offboard", "/regenerate", "/remove", "/revoke")


def _walk(fuzzer: Fuzzer, visitor: Visitor, rules) -> None:
    """GET every page first (to learn its forms), then POST every form; what
    removes or ends something last, so the other forms meet what they need."""
    for method in ("GET", "POST"):
        for rule in sorted(rules, key=lambda r: r.rule.endswith(ENDINGS)):
            if method in rule.methods:
                visitor.ready()
                (fuzzer.fuzz_get if method == "GET" else fuzzer.fuzz_post)(visitor, rule)


# ------------------------------------------------------------------- tests


def test_no_hostile_form_field_or_query_parameter_answers_a_5xx(app, auth, client):
    started = time.monotonic()
    world = _build_world()
    other_before = digest(only_agency=world.other_agency_id)
    fuzzer = Fuzzer(world)

    # 1. A client on the link (before the agency revokes or renews it below).
    link = Visitor(app.test_client(), token_page=f"/r/{world.link}")
    _walk(fuzzer, link, _rules(app, lambda r: r.startswith("/r/")))
    # 2. Anonymous: sign-in, reset, sign-up, invitations, language, health.
    anonymous = _rules(app, lambda r: not r.startswith(("/r/", "/app/", "/api/")))
    _walk(fuzzer, Visitor(app.test_client()), anonymous)
    # 3. The agency's owner (signed in again whenever a route signs out).
    owner = Visitor(client, lambda: auth.login(world.owner), "/app/account/security")
    _walk(fuzzer, owner, _rules(app, lambda r: r.startswith("/app/")))
    # 4. The API's query parameters and ids, with a valid key.
    from test_api_support import api_key, bearer

    api = app.test_client()
    api.environ_base["HTTP_AUTHORIZATION"] = bearer(api_key(world.agency))["Authorization"]
    for rule in _rules(app, lambda r: r.startswith("/api/")):
        if "GET" in rule.methods:
            fuzzer.fuzz_get(Visitor(api), rule)

    assert not fuzzer.failures, "\n".join(fuzzer.failures[:40])
    assert changed(other_before, digest(only_agency=world.other_agency_id)) == []
    assert fuzzer.calls > 1000, fuzzer.calls
    assert fuzzer.changes > 10, "the fingerprint of saved data never changed: is it read?"
    assert len(fuzzer.forms_seen) > 30, sorted(fuzzer.forms_seen)
    print(f"form fuzzer: {fuzzer.calls} requests in {time.monotonic() - started:.1f}s")
