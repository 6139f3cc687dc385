"""Hostile input never answers a 500, and is refused in one place (portal/inputs.py).

- Control characters (NUL first: PostgreSQL refuses it in text) in any query
  parameter, URL segment, form field or API body: a clear 422, nothing saved.
- Line breaks only in multi-line fields; never in a redirect or an e-mail header,
  and a row saved before these rules cannot break a page or an e-mail.
- Ids and page numbers beyond the database's range: a 404 or the last page.
- Hosts are compared normalised: a trailing dot does not open another
  agency's custom domain.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import PASSWORD
from helpers_requests import PINTEREST_ITEMS, csrf_from, fake_connection, make_request
from sqlalchemy import func, select
from test_api_support import api_key, bearer
from werkzeug.routing import IntegerConverter

from portal import inputs, mail
from portal.extensions import db
from portal.models import (
    AccessRequest,
    Agency,
    Client,
    CustomTool,
    Invitation,
    Template,
    WebhookEndpoint,
)

HUGE = "99999999999999999999"
CONTROL_ERROR = "invisible control characters"


@pytest.fixture
def ready(agency):
    fake_connection(agency)
    return agency


def _csrf(client, page: str) -> str:
    return csrf_from(client.get(page).get_data(as_text=True))


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# ------------------------------------------------------------ 4. NUL bytes


def test_a_nul_byte_at_sign_in_or_reset_is_a_clear_422(client):
    for page in ("/auth/login", "/auth/reset"):
        token = _csrf(client, page)
        answer = client.post(
            page, data={"csrf_token": token, "email": "a\x00@b.test", "password": "x"}
        )
        assert answer.status_code == 422, page
        assert CONTROL_ERROR in answer.get_data(as_text=True)


@pytest.mark.parametrize(
    "url",
    [
        "/app/requests?q=%00",
        "/app/clients?q=%00",
        "/app/audit?actor=%00",
        "/app/audit?action=a%00",
        "/app/audit.csv?actor=%00",
        "/app/tools/x%00y",
    ],
)
def test_a_nul_byte_in_a_search_filter_or_url_is_a_422(auth, ready, owner, url):
    answer = auth.login(owner).get(url)
    assert answer.status_code in (404, 422), answer.status_code
    if "?" in url:
        assert answer.status_code == 422
        assert CONTROL_ERROR in answer.get_data(as_text=True)


FORMS = {
    "/app/tools/new": {
        "name": "Word\x00Press",
        "instructions": "Open it",
        "reply_kind": "confirmation",
    },
    "/app/templates/new": {"name": "Ads\x00", "perm": "pinterest|AD_ACCOUNT|CAMPAIGN_MANAGER"},
    "/app/requests/new": {
        "client_name": "Blue\x00Harbor",
        "client_email": "c@blue.test",
        "locale": "en",
        "expires_in_days": "14",
        "perm": "pinterest|AD_ACCOUNT|CAMPAIGN_MANAGER",
    },
    "/app/branding": {
        "display_name": "Acme\x00",
        "primary_color": "#4338ca",
        "default_locale": "en",
    },
    "/app/webhooks/new": {"url": "http://127.0.0.1:9/h", "events": "*", "description": "a\x00"},
    "/app/team/invite": {"email": "new@acme.test", "role": "member\x00"},
}


@pytest.mark.parametrize("page", sorted(FORMS))
def test_a_nul_byte_in_any_agency_form_is_a_422_and_nothing_is_saved(auth, ready, owner, page):
    client = auth.login(owner)
    models = (CustomTool, Template, AccessRequest, Client, WebhookEndpoint, Invitation)
    before = [_count(m) for m in models]
    display_name = db.session.get(Agency, ready.id).display_name
    token = _csrf(client, "/app/account/security")
    answer = client.post(page, data={"csrf_token": token, **FORMS[page]})
    assert answer.status_code == 422
    assert CONTROL_ERROR in answer.get_data(as_text=True)
    assert [_count(m) for m in models] == before
    db.session.expire_all()
    assert db.session.get(Agency, ready.id).display_name == display_name


def test_the_api_answers_a_422_naming_the_field_with_a_control_character(client, ready):
    headers = bearer(api_key(ready))
    body = {"client": {"name": "Blue\x00", "email": "c@blue.test"}, "items": PINTEREST_ITEMS}
    cases = [
        ("/api/v1/access-requests", body, "client.name"),
        ("/api/v1/access-requests", {**body, "client": {"name": "B", "email": "c@b.test"},
                                     "external_id": "crm\x00"}, "external_id"),
        ("/api/v1/templates", {"name": "Ads\x00", "items": PINTEREST_ITEMS}, "name"),
        ("/api/v1/webhook-endpoints",
         {"url": "http://127.0.0.1:9/h", "events": ["*"], "description": "a\x00"}, "description"),
    ]  # fmt: skip
    for path, payload, field in cases:
        answer = client.post(path, json=payload, headers=headers)
        assert answer.status_code == 422, (path, answer.get_data(as_text=True))
        assert answer.mimetype == "application/problem+json"
        assert [e["field"] for e in answer.get_json()["errors"]] == [field]
        assert CONTROL_ERROR in answer.get_json()["errors"][0]["message"]
    lone_surrogate = {"name": "Ads\ud800", "items": PINTEREST_ITEMS}
    answer = client.post("/api/v1/templates", json=lone_surrogate, headers=headers)
    assert answer.status_code == 422
    answer = client.get("/api/v1/access-requests?external_id=%00", headers=headers)
    assert answer.status_code == 422
    assert answer.get_json()["errors"][0]["field"] == "external_id"
    assert _count(AccessRequest) == _count(Template) == _count(WebhookEndpoint) == 0


def test_line_breaks_are_kept_in_a_message_and_refused_in_a_name(auth, client, ready, owner):
    headers = bearer(api_key(ready))
    ok = {"name": "Ads", "message": "Hello,\r\n\tthanks.", "items": PINTEREST_ITEMS}
    assert client.post("/api/v1/templates", json=ok, headers=headers).status_code == 201
    answer = client.post("/api/v1/templates", json={**ok, "name": "A\nB"}, headers=headers)
    assert answer.status_code == 422
    assert answer.get_json()["errors"] == [
        {"field": "name", "message": "This must fit on one line: remove the line breaks."}
    ]
    # The document says so: strings carry the pattern validation applies.
    spec = client.get("/api/v1/openapi.json").get_json()
    template = spec["components"]["schemas"]["TemplateCreate"]["properties"]
    assert template["name"]["pattern"] == inputs.ONE_LINE_PATTERN
    assert template["message"]["anyOf"][0]["pattern"] == inputs.MULTILINE_PATTERN
    # The same in the agency's forms.
    client = auth.login(owner)
    token = _csrf(client, "/app/templates/new")
    form = {"csrf_token": token, "perm": "pinterest|AD_ACCOUNT|CAMPAIGN_MANAGER"}
    answer = client.post("/app/templates/new", data={**form, "name": "Ads\r\nv2"})
    assert answer.status_code == 422
    answer = client.post("/app/templates/new", data={**form, "name": "Ads 2", "message": "a\r\nb"})
    assert answer.status_code == 303
    saved = db.session.execute(select(Template).where(Template.name == "Ads 2")).scalar_one()
    assert saved.message.splitlines() == ["a", "b"]


def test_every_multi_line_field_is_declared_so_others_refuse_line_breaks():
    """A <textarea> (or WTForms TextAreaField) name matches inputs.MULTILINE_FIELDS:
    the shared guard refuses line breaks in every other form field."""
    root = Path(__file__).resolve().parent.parent
    names = set()
    for path in (root / "templates").rglob("*.html"):
        source = path.read_text()
        # {% set fid = "answer-" ~ q.id %} ... name="{{ fid }}": the name is "answer-1".
        names_set = dict(re.findall(r'\{%-?\s*set (\w+) = "([^"]*)" ~', source))
        for tag in re.findall(r"<textarea\b[^>]*>", source):
            match = re.search(r'\bname="([^"]+)"', tag)
            if match:
                name = re.sub(
                    r"\{\{\s*(\w+)\s*\}\}",
                    lambda m, known=names_set: known.get(m.group(1), "") + "1",
                    match.group(1),
                )
                names.add(re.sub(r"\{\{.*?\}\}", "1", name))
    for path in (root / "portal").rglob("*.py"):
        names.update(re.findall(r"(\w+) = TextAreaField\(", path.read_text()))
    assert names, "no multi-line field found: the scan is broken"
    undeclared = sorted(n for n in names if not inputs.is_multiline_field(n))
    assert not undeclared, f"declare these in portal/inputs.py MULTILINE_FIELDS: {undeclared}"


# --------------------------------------------------------- 5. huge numbers


@pytest.mark.parametrize("page", ["/app/requests", "/app/clients", "/app/audit", "/app/webhooks"])
def test_a_huge_page_number_is_past_the_last_page_not_a_500(auth, ready, owner, page):
    client = auth.login(owner)
    for value in (HUGE, "-" + HUGE, "-1", "0", "1e9", "x"):
        assert client.get(f"{page}?page={value}&per_page={HUGE}").status_code in (200, 404)


def test_every_id_in_a_url_is_bounded_by_one_converter(app, auth, ready, owner):
    """Every `<int:...>` route: an id beyond the database's range is a 404."""
    client = auth.login(owner)
    token = _csrf(client, "/app/account/security")
    checked = 0
    for rule in app.url_map.iter_rules():
        ints = [n for n, c in rule._converters.items() if isinstance(c, IntegerConverter)]
        if not ints or rule.endpoint.startswith("sandbox."):
            continue
        path = rule.rule
        for name in rule.arguments:
            value = HUGE if name in ints else "x"
            path = path.replace(f"<int:{name}>", value).replace(f"<{name}>", value)
        for method in rule.methods & {"GET", "POST", "DELETE"}:
            answer = client.open(path, method=method, data={"csrf_token": token})
            assert answer.status_code in (401, 404), (method, path, answer.status_code)
            checked += 1
    assert checked > 40
    assert app.url_map.converters["int"] is inputs.IdConverter


def test_huge_ids_in_forms_and_query_strings_are_not_found(auth, ready, owner):
    client = auth.login(owner)
    for param in ("template_id", "client_id"):
        assert client.get(f"/app/requests/new?{param}={HUGE}").status_code == 404
    token = _csrf(client, "/app/account/security")
    answer = client.post("/auth/agency", data={"csrf_token": token, "agency_id": HUGE})
    assert answer.status_code == 404
    for query in ("until=9999-12-31", "since=0001-01-01", f"request_id={HUGE}", "until=99999-1-1"):
        assert client.get(f"/app/audit?{query}").status_code == 200, query
        assert client.get(f"/app/audit.csv?{query}").status_code == 200, query


def test_the_number_parsers_bound_what_they_return(app):
    with app.test_request_context(f"/?page={HUGE}&n=-5&d=9999-12-31&id={HUGE}&ok=7"):
        assert inputs.page_arg() == inputs.MAX_PAGE
        assert inputs.int_arg("n", 3, low=1, high=10) == 3
        assert inputs.int_arg("n", 3, low=1, high=10, clamp=True) == 1
        assert inputs.date_arg("d") is None
        assert inputs.id_arg("id") is None and inputs.id_arg("ok") == 7
    assert inputs.parse_id(2**31 - 1) == 2**31 - 1
    assert inputs.parse_id(2**31) is None and inputs.parse_id("٣") is None


# ----------------------------------------------------------------- 6. CR/LF


def test_a_next_address_with_a_line_break_is_ignored_not_a_500(client, owner):
    token = _csrf(client, "/auth/login")
    answer = client.post(
        "/auth/login?next=/%0d%0aSet-Cookie:%20x=1",
        data={"csrf_token": token, "email": "owner@acme.test", "password": PASSWORD},
    )
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/app/"
    token = _csrf(client, "/app/account/security")
    answer = client.post("/language", data={"csrf_token": token, "locale": "fr", "next": "/\r\nX"})
    assert answer.status_code == 422
    for bad in ("/\r\nX", "//evil.test", "/\\evil.test", "https://evil.test/", "/a b", "/\x00"):
        assert inputs.local_path(bad) is None, bad
    assert inputs.local_path("/app/requests?q=a") == "/app/requests?q=a"


def test_a_redirect_address_with_a_line_break_is_refused(auth, client, ready, owner):
    headers = bearer(api_key(ready))
    body = {"client": {"name": "Blue", "email": "c@blue.test"}, "items": PINTEREST_ITEMS}
    for url in ("https://blue.test/\r\nSet-Cookie: x=1", "https://blue.test/a b", "javascript:x"):
        answer = client.post(
            "/api/v1/access-requests", json={**body, "redirect_url": url}, headers=headers
        )
        assert answer.status_code == 422, url
        assert answer.get_json()["errors"][0]["field"] == "redirect_url"
    assert inputs.web_address("https://blue.test/done?x=1") == "https://blue.test/done?x=1"
    assert inputs.web_address("https://blue.test:99999/") is None


def test_a_saved_redirect_with_a_line_break_shows_the_done_page(client, ready, owner):
    access_request, token = make_request(ready, owner)
    access_request.redirect_url = "https://blue.test/\r\nSet-Cookie: x=1"  # saved before the rule
    db.session.commit()
    answer = client.get(f"/r/{token}/finish")
    assert answer.status_code == 200
    access_request.redirect_url = "https://blue.test/thanks"
    db.session.commit()
    answer = client.get(f"/r/{token}/finish")
    assert (answer.status_code, answer.headers["Location"]) == (303, "https://blue.test/thanks")


def test_a_display_name_with_a_line_break_never_breaks_an_e_mail(auth, ready, owner, outbox):
    client = auth.login(owner)
    token = _csrf(client, "/app/branding")
    form = {"csrf_token": token, "primary_color": "#4338ca", "default_locale": "en"}
    answer = client.post("/app/branding", data={**form, "display_name": "Acme\r\nBcc: x@evil.test"})
    assert answer.status_code == 422
    # A name saved before the rule: every e-mail still goes, on one header line.
    agency = db.session.get(Agency, ready.id)
    agency.display_name = "Acme\r\nBcc: x@evil.test"
    db.session.commit()
    from portal.notifications.emails import request_email
    from portal.notifications.recipients import Recipient

    access_request, _token = make_request(ready, owner)
    msg = request_email(access_request, Recipient("c@blue.test", "en"), "https://x.test/r/t")
    mail.deliver(msg)
    (sent,) = outbox()
    assert sent["From"].addresses[0].display_name == "Acme Bcc: x@evil.test via Latchkey"
    assert sent["Bcc"] is None
    assert "\n" not in sent["Subject"]


# ------------------------------------------------------- 8. custom domains


def test_a_trailing_dot_or_other_spelling_does_not_open_another_agencys_domain(
    client, ready, owner, outsider
):
    acme = db.session.get(Agency, ready.id)
    acme.custom_domain = "access.acme.test"
    other = db.session.execute(select(Agency).where(Agency.id != ready.id)).scalar_one()
    fake_connection(other)
    db.session.commit()
    _ar, acme_token = make_request(acme, owner)
    _br, other_token = make_request(other, None, client_email="b@b.test")
    for host in ("access.acme.test.", "ACCESS.Acme.Test", "access.acme.test.:443"):
        base = {"base_url": f"http://{host}"}
        assert client.get(f"/r/{other_token}", **base).status_code == 404, host
        assert client.get(f"/r/{acme_token}", **base).status_code == 200, host
    assert inputs.normalise_host("Accès.Example.") == "xn--accs-7oa.example"
    assert inputs.normalise_host("[::1]:5000") == "[::1]"
