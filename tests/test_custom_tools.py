"""Other tools: access an agency describes itself and asks for like any platform.

Admins describe a tool (name, steps for the client, what the client sends
back); it is then offered in the template editor, the request form and the
API's platform list for that agency only, and the client follows its steps
on the link like a guided platform's.
"""

from __future__ import annotations

import pytest
from helpers_requests import audit_actions, csrf_from, form_fields, make_request
from sqlalchemy import select
from test_api_support import api_key, bearer

from portal import platforms
from portal.extensions import db
from portal.models import CustomTool, Grant
from portal.platforms.manual.custom import agency_scope, find_tool
from portal.services import tools as service

WORDPRESS = {
    "name": "WordPress",
    "description": "Install the tracking tags on your site.",
    "access_label": "Administrator",
    "instructions": "Sign in to your site's admin (/wp-admin).\n\n  Open Users → Add New User.  \n"
    "Add seo@acme.test with the role Administrator.",
    "link": "https://wordpress.com/",
    "reply_kind": "url",
    "reply_label": "Your site's admin address",
    "reply_hint": "Like https://example.com/wp-admin",
}


def make_tool(agency, **changes) -> CustomTool:
    return service.create_tool(agency.id, {**WORDPRESS, **changes}, None)


def items_for(tool: CustomTool) -> list[dict]:
    return [{"platform": "other", "asset_type": tool.key, "permissions": ["ACCESS"]}]


def post_form(client, url: str, **fields):
    csrf = csrf_from(client.get(url).get_data(as_text=True))
    return client.post(url, data={"csrf_token": csrf, **fields})


# --------------------------------------------------------------- admin area


def test_an_admin_describes_a_tool_and_finds_it_listed(client, auth, agency, owner):
    auth.login(owner)
    answer = post_form(client, "/app/tools/new", **WORDPRESS)
    assert answer.status_code == 303
    tool = db.session.execute(select(CustomTool)).scalar_one()
    assert tool.agency_id == agency.id
    assert tool.key.startswith("wordpress-") and len(tool.key) == len("wordpress-") + 4
    # One step per line, blank lines and spaces dropped.
    assert tool.steps == [
        "Sign in to your site's admin (/wp-admin).",
        "Open Users → Add New User.",
        "Add seo@acme.test with the role Administrator.",
    ]
    listing = client.get("/app/tools").get_data(as_text=True)
    assert "WordPress" in listing and tool.key in listing and "3 steps" in listing
    assert "custom_tool.created" in audit_actions(agency.id)
    assert "Other tools" in listing  # in the navigation and the heading


@pytest.mark.parametrize(
    ("changes", "field_message"),
    [
        ({"name": ""}, "Give the tool a name"),
        ({"instructions": "  \n "}, "Write the steps the client follows"),
        ({"reply_label": ""}, "Say what the client sends back"),
        ({"link": "javascript:alert(1)"}, "Enter a full web address starting with https://."),
        ({"reply_kind": "password"}, "Choose what the client sends back."),
        ({"name": "x" * 101}, "Use at most 100 characters."),
    ],
)
def test_it_explains_what_to_fix_in_a_tool(client, auth, agency, owner, changes, field_message):
    auth.login(owner)
    answer = post_form(client, "/app/tools/new", **{**WORDPRESS, **changes})
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert field_message in html
    assert 'aria-invalid="true"' in html
    assert db.session.execute(select(CustomTool)).first() is None


def test_a_confirmation_needs_no_label_and_names_are_unique(client, auth, agency, owner):
    auth.login(owner)
    confirm = {**WORDPRESS, "reply_kind": "confirmation", "reply_label": "ignored"}
    assert post_form(client, "/app/tools/new", **confirm).status_code == 303
    tool = db.session.execute(select(CustomTool)).scalar_one()
    assert tool.reply_kind == "confirmation" and tool.reply_label is None
    again = post_form(client, "/app/tools/new", **{**WORDPRESS, "name": "wordpress"})
    assert again.status_code == 422
    assert "You already have a tool with this name" in again.get_data(as_text=True)


def test_editing_keeps_the_key_and_archiving_takes_it_out_of_new_requests(
    client, auth, agency, owner
):
    tool = make_tool(agency)
    key = tool.key
    auth.login(owner)
    edited = post_form(
        client, f"/app/tools/{tool.id}/edit", **{**WORDPRESS, "name": "WordPress site"}
    )
    assert edited.status_code == 303
    db.session.refresh(tool)
    assert tool.name == "WordPress site" and tool.key == key
    assert f'value="other|{key}|ACCESS"' in client.get("/app/templates/new").get_data(as_text=True)
    archived = post_form(client, f"/app/tools/{tool.id}/archive")
    assert archived.status_code == 303
    db.session.refresh(tool)
    assert tool.archived_at is not None
    editor = client.get("/app/templates/new").get_data(as_text=True)
    assert f'value="other|{key}|ACCESS"' not in editor
    assert "has not described any other tool yet" in editor
    assert "WordPress site" in client.get("/app/tools?show=archived").get_data(as_text=True)
    restored = post_form(client, f"/app/tools/{tool.id}/archive", restore="1")
    assert restored.status_code == 303
    db.session.refresh(tool)
    assert tool.archived_at is None
    actions = audit_actions(agency.id)
    for action in ("custom_tool.updated", "custom_tool.archived", "custom_tool.restored"):
        assert action in actions


def test_members_cannot_manage_tools(client, auth, agency, member):
    tool = make_tool(agency)
    auth.login(member)
    assert client.get("/app/tools").status_code == 403
    assert client.get(f"/app/tools/{tool.id}/edit").status_code == 403


# ------------------------------------------------ offered like any platform


def test_each_agency_sees_and_asks_for_its_own_tools_only(client, auth, agency, owner, outsider):
    tool = make_tool(agency)
    mine = {
        p["id"]: p
        for p in client.get("/api/v1/platforms", headers=bearer(api_key(agency))).get_json()["data"]
    }
    (listed,) = mine["other"]["asset_types"]
    assert listed == {
        "id": tool.key,
        "name": "WordPress",
        "permissions": [{"id": "ACCESS", "label": "Administrator"}],
    }
    other_agency = outsider.memberships[0].agency
    theirs_key = api_key(other_agency)
    theirs = {
        p["id"]: p
        for p in client.get("/api/v1/platforms", headers=bearer(theirs_key)).get_json()["data"]
    }
    assert theirs["other"]["asset_types"] == []
    # Another agency cannot ask for Acme's tool, through the API or the form.
    refused = client.post(
        "/api/v1/templates",
        headers=bearer(theirs_key),
        json={"name": "Sneaky", "items": items_for(tool)},
    )
    assert refused.status_code == 422
    assert "Other tools has no asset type" in refused.get_data(as_text=True)
    auth.login(outsider)
    csrf = csrf_from(client.get("/app/templates/new").get_data(as_text=True))
    sneaky = client.post(
        "/app/templates/new",
        data={"csrf_token": csrf, "name": "Sneaky", "perm": f"other|{tool.key}|ACCESS"},
    )
    assert sneaky.status_code == 422
    # Acme's own API key can.
    created = client.post(
        "/api/v1/templates",
        headers=bearer(api_key(agency)),
        json={"name": "Site", "items": items_for(tool)},
    )
    assert created.status_code == 201


def test_it_finds_a_stored_tool_by_key_in_jobs_and_only_in_its_agency_elsewhere(agency, outsider):
    tool = make_tool(agency)
    other_agency = outsider.memberships[0].agency
    assert find_tool(tool.key).id == tool.id  # no agency in scope: a job, a command
    with agency_scope(other_agency.id):
        assert find_tool(tool.key) is None
        assert platforms.get("other").asset_type(tool.key) is None
    with agency_scope(agency.id):
        assert platforms.get("other").asset_type(tool.key).name == "WordPress"
    assert find_tool("x'; drop table custom_tool; --") is None
    assert find_tool("\x00") is None


# ----------------------------------------------------------- client's side


def test_the_client_follows_the_tools_steps_and_sends_back_what_it_asks(
    client, auth, agency, owner
):
    tool = make_tool(agency)
    access_request, token = make_request(agency, owner, items=items_for(tool))
    welcome = client.get(f"/r/{token}").get_data(as_text=True)
    assert "Start with Other tools" in welcome
    page = client.get(f"/r/{token}/p/other").get_data(as_text=True)
    assert "Add seo@acme.test with the role Administrator." in page
    assert "Your site&#39;s admin address" in page or "Your site's admin address" in page
    assert 'href="https://wordpress.com/"' in page
    action = f"/r/{token}/p/other/items/0/reply"
    fields = form_fields(page, action)
    fields.setlist("reply", ["not a web address"])
    wrong = client.post(action, data=fields)
    assert wrong.status_code == 422
    assert "Enter a full web address starting with https://." in wrong.get_data(as_text=True)
    fields.setlist("reply", ["https://blueharbor.test/wp-admin"])
    assert client.post(action, data=fields).status_code == 303
    (grant,) = db.session.execute(select(Grant)).scalars().all()
    assert (grant.platform, grant.asset_type, grant.status) == ("other", tool.key, "needs_action")
    assert grant.external["sent_back"] == {"reply": "https://blueharbor.test/wp-admin"}
    # The agency sees it, with its own label, and confirms it.
    auth.login(owner)
    detail = client.get(f"/app/requests/{access_request.id}").get_data(as_text=True)
    assert "Your site&#39;s admin address" in detail or "Your site's admin address" in detail
    assert "https://blueharbor.test/wp-admin" in detail
    answer = client.post(
        f"/app/requests/{access_request.id}/grants/{grant.id}/done",
        data={"csrf_token": csrf_from(detail)},
    )
    assert answer.status_code == 303
    db.session.refresh(grant)
    assert grant.status == "verified"


def test_a_confirmation_tool_asks_only_that_the_client_says_it_is_done(client, agency, owner):
    tool = make_tool(agency, reply_kind="confirmation", reply_label="")
    _ar, token = make_request(agency, owner, items=items_for(tool))
    page = client.get(f"/r/{token}/p/other").get_data(as_text=True)
    assert "I&#39;ve done this" in page or "I've done this" in page
    action = f"/r/{token}/p/other/items/0/reply"
    assert client.post(action, data=form_fields(page, action)).status_code == 303
    (grant,) = db.session.execute(select(Grant)).scalars().all()
    assert grant.status == "needs_action"
    assert grant.external["waiting_on"] == "agency"
    assert grant.external["sent_back"] == {}
    assert grant.asset_name == "WordPress"


def test_a_link_shows_its_own_agencys_tools_even_to_someone_signed_in_elsewhere(
    client, auth, agency, owner, outsider
):
    tool = make_tool(agency)
    _ar, token = make_request(agency, owner, items=items_for(tool))
    auth.login(outsider)  # an agency person of another agency opens the client's link
    page = client.get(f"/r/{token}/p/other").get_data(as_text=True)
    assert "Add seo@acme.test with the role Administrator." in page


def test_an_archived_tool_keeps_its_steps_on_links_already_sent(client, agency, owner):
    tool = make_tool(agency)
    _ar, token = make_request(agency, owner, items=items_for(tool))
    service.set_archived(tool, True, None)
    page = client.get(f"/r/{token}/p/other").get_data(as_text=True)
    assert "Open Users → Add New User." in page


def test_the_client_can_correct_its_answer_until_the_agency_confirms(client, agency, owner):
    tool = make_tool(agency, reply_kind="email", reply_label="The login you created")
    _ar, token = make_request(agency, owner, items=items_for(tool))
    action = f"/r/{token}/p/other/items/0/reply"
    page = client.get(f"/r/{token}/p/other").get_data(as_text=True)
    fields = form_fields(page, action)
    fields.setlist("reply", ["seo@acme.test"])
    assert client.post(action, data=fields).status_code == 303
    page = client.get(f"/r/{token}/p/other").get_data(as_text=True)
    assert "Correct what you sent" in page
    fields = form_fields(page, action)
    assert fields["reply"] == "seo@acme.test"  # starts from what was sent
    fields.setlist("reply", ["SEO-team@acme.test"])
    assert client.post(action, data=fields).status_code == 303
    (grant,) = db.session.execute(select(Grant)).scalars().all()
    db.session.refresh(grant)
    assert grant.external["sent_back"] == {"reply": "SEO-team@acme.test"}
    assert audit_actions(agency.id).count("grant.manual_done") == 2
