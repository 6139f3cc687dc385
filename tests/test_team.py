"""The team: invitations, roles, removals, the last-owner rule and who may do what."""

from __future__ import annotations

from datetime import timedelta

import pyotp
from conftest import PASSWORD
from helpers_auth import NEW_PASSWORD, actions, events, html, link_in, post_form, relative
from sqlalchemy import select

from portal import crypto
from portal.auth import totp
from portal.crypto import token_hash
from portal.extensions import db
from portal.models import Invitation, Membership, User
from portal.models.base import utcnow

TEAM = "/app/team"


def _invite(client, email: str, role: str = "member"):
    return post_form(client, "/app/team/invite", {"email": email, "role": role}, TEAM)


def _invitation_path(app, outbox, index: int = -1) -> str:
    base = app.config["LATCHKEY_BASE_URL"]
    return relative(link_in(outbox()[index], base, "/auth/invite/"), base)


def _membership(user) -> Membership:
    return db.session.execute(select(Membership).where(Membership.user_id == user.id)).scalar_one()


def _role(client, membership: Membership, role: str):
    return post_form(client, f"/app/team/members/{membership.id}/role", {"role": role}, TEAM)


def _remove(client, membership: Membership):
    return post_form(client, f"/app/team/members/{membership.id}/remove", {}, TEAM)


def _refresh_role(user) -> str | None:
    db.session.expire_all()
    row = db.session.execute(select(Membership.role).where(Membership.user_id == user.id)).first()
    return row.role if row else None


# ------------------------------------------------------------------ the list


def test_it_lists_members_and_pending_invitations(client, auth, owner, admin, viewer):
    auth.login(admin)
    _invite(client, "newbie@acme.test", "viewer")
    auth.login(viewer)

    page = html(client.get(TEAM))

    for email in (owner.email, admin.email, viewer.email, "newbie@acme.test"):
        assert email in page
    assert "3 members" in page


def test_it_shows_the_list_read_only_to_viewers_and_members(client, auth, member, viewer):
    for person in (member, viewer):
        auth.login(person)
        page = html(client.get(TEAM))
        assert "Only owners and admins can invite people" in page
        assert 'action="/app/team/invite"' not in page
        assert "/role" not in page
        assert "/remove" not in page


def test_it_adds_team_to_the_navigation(client, auth, viewer):
    auth.login(viewer)

    assert 'href="/app/team"' in html(client.get("/app/"))


# ---------------------------------------------------------------- invitations


def test_it_invites_a_new_person_who_accepts_and_is_signed_in(client, app, auth, admin, outbox):
    auth.login(admin)
    response = _invite(client, " New.Person@Acme.test ", "member")
    assert response.status_code == 303

    [message] = outbox()
    assert message["To"] == "new.person@acme.test"
    assert message["Reply-To"] == admin.email
    assert "Acme Agency" in message["Subject"]
    path = _invitation_path(app, outbox)
    invitation = db.session.execute(select(Invitation)).scalar_one()
    assert invitation.token_hash == token_hash(path.rsplit("/", 1)[1])
    assert invitation.expires_at - invitation.created_at == timedelta(days=7)

    newcomer = app.test_client()
    page = newcomer.get(path)
    assert page.status_code == 200
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "new.person@acme.test" in html(page)
    weak = post_form(newcomer, path, {"name": "Pat", "password": "short", "confirm": "short"})
    assert weak.status_code == 422
    assert "Use at least 12 characters." in html(weak)

    joined = post_form(
        newcomer, path, {"name": "Pat New", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )

    assert joined.status_code == 303
    assert newcomer.get("/app/").status_code == 200
    user = db.session.execute(select(User).where(User.email == "new.person@acme.test")).scalar_one()
    assert user.name == "Pat New"
    assert _membership(user).role == "member"
    agency_id = admin.memberships[0].agency_id
    assert actions(agency_id)[-3:] == ["team.invited", "team.invitation_accepted", "auth.login"]


def test_it_lets_a_signed_in_person_with_that_email_join(
    client, app, auth, owner, outsider, outbox
):
    auth.login(owner)
    _invite(client, outsider.email, "admin")
    path = _invitation_path(app, outbox)
    auth.login(outsider)

    page = client.get(path)
    assert "Join Acme Agency" in html(page)
    response = post_form(client, path, {})

    assert response.status_code == 303
    roles = {m.agency.name: m.role for m in outsider.memberships}
    assert roles == {"Other Agency": "owner", "Acme Agency": "admin"}
    assert "Acme Agency" in html(client.get("/app/"))  # now working in the new agency


def test_it_asks_an_existing_person_to_sign_in_before_joining(
    client, app, auth, owner, outsider, outbox
):
    auth.login(owner)
    _invite(client, outsider.email, "member")
    path = _invitation_path(app, outbox)
    visitor = app.test_client()

    page = visitor.get(path)

    assert page.status_code == 200
    assert "Sign in to join" in html(page)
    assert (
        post_form(
            visitor, path, {"name": "x", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
        ).status_code
        == 403
    )
    assert len(outsider.memberships) == 1


def test_it_refuses_an_invitation_meant_for_someone_else(client, app, auth, owner, admin, outbox):
    auth.login(owner)
    _invite(client, "someone@acme.test", "member")
    path = _invitation_path(app, outbox)
    auth.login(admin)

    assert "but this invitation is for someone@acme.test" in html(client.get(path))
    assert post_form(client, path, {}).status_code == 403


def test_it_refuses_a_used_invitation_with_410(client, app, auth, owner, outbox):
    auth.login(owner)
    _invite(client, "once@acme.test")
    path = _invitation_path(app, outbox)
    first = app.test_client()
    post_form(first, path, {"name": "Once", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})

    again = app.test_client().get(path)

    assert again.status_code == 410
    assert "This invitation was already used" in html(again)


def test_it_refuses_an_expired_invitation_with_410(client, app, auth, owner, outbox):
    auth.login(owner)
    _invite(client, "late@acme.test")
    path = _invitation_path(app, outbox)
    invitation = db.session.execute(select(Invitation)).scalar_one()
    invitation.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    visitor = app.test_client()

    page = visitor.get(path)

    assert page.status_code == 410
    assert "This invitation has expired" in html(page)
    assert "Ask Acme Agency to send you a new one" in html(page)


def test_it_withdraws_an_invitation_whose_link_then_answers_410(client, app, auth, admin, outbox):
    auth.login(admin)
    _invite(client, "maybe@acme.test")
    path = _invitation_path(app, outbox)
    invitation = db.session.execute(select(Invitation)).scalar_one()

    response = post_form(client, f"/app/team/invitations/{invitation.id}/revoke", {}, TEAM)

    assert response.status_code == 303
    team_page = html(client.get(TEAM))
    assert "The invitation to maybe@acme.test was withdrawn." in team_page
    assert f"/app/team/invitations/{invitation.id}/revoke" not in team_page
    page = app.test_client().get(path)
    assert page.status_code == 410
    assert "This invitation was withdrawn" in html(page)
    assert events("team.invitation_revoked")[0].details == {
        "email": "maybe@acme.test",
        "role": "member",
    }


def test_it_answers_404_for_an_unknown_invitation(client):
    response = client.get("/auth/invite/unknown-token")

    assert response.status_code == 404
    assert "This invitation link is not valid" in html(response)


def test_it_replaces_an_open_invitation_when_sent_again(client, app, auth, owner, outbox):
    auth.login(owner)
    _invite(client, "twice@acme.test")
    first = _invitation_path(app, outbox, 0)
    _invite(client, "twice@acme.test", "viewer")
    second = _invitation_path(app, outbox, 1)

    assert app.test_client().get(first).status_code == 410
    assert app.test_client().get(second).status_code == 200
    assert events("team.invited")[-1].details == {
        "email": "twice@acme.test",
        "role": "viewer",
        "replaced": 1,
    }


def test_it_refuses_to_invite_an_existing_member(client, auth, owner, member, outbox):
    auth.login(owner)

    response = _invite(client, member.email)

    assert response.status_code == 422
    assert "already a member of your agency" in html(response)
    assert outbox() == []


def test_it_refuses_an_invalid_or_oversized_invitation_in_place(client, auth, owner):
    auth.login(owner)

    bad = _invite(client, "not-an-email", "member")
    huge = _invite(client, "x" * 300 + "@acme.test", "wizard")

    assert bad.status_code == huge.status_code == 422
    assert "Enter a valid e-mail address" in html(bad)
    assert "Use at most 254 characters." in html(huge)
    assert "Not a valid choice" in html(huge)


def test_it_lets_only_owners_invite_owners(client, auth, admin, outbox):
    auth.login(admin)

    response = _invite(client, "boss@acme.test", "owner")

    assert response.status_code == 422
    assert outbox() == []
    assert db.session.execute(select(Invitation)).first() is None


# --------------------------------------------------------------------- roles


def test_it_lets_an_admin_change_a_members_role(client, auth, admin, member):
    auth.login(admin)

    response = _role(client, _membership(member), "viewer")

    assert response.status_code == 303
    assert _refresh_role(member) == "viewer"
    [event] = events("team.role_changed")
    assert event.details == {"email": member.email, "from": "member", "to": "viewer"}
    assert event.actor_id == str(admin.id)


def test_it_keeps_admins_away_from_owners(client, auth, owner, admin, member):
    auth.login(admin)

    assert _role(client, _membership(member), "owner").status_code == 403
    demote = _role(client, _membership(owner), "admin")
    assert demote.status_code == 403
    assert "Only an owner can change who is an owner." in html(demote)
    assert _remove(client, _membership(owner)).status_code == 403
    assert (_refresh_role(member), _refresh_role(owner)) == ("member", "owner")


def test_it_lets_an_owner_make_and_unmake_owners(client, auth, owner, admin):
    auth.login(owner)

    assert _role(client, _membership(admin), "owner").status_code == 303
    assert _refresh_role(admin) == "owner"
    assert _role(client, _membership(owner), "member").status_code == 303
    assert _refresh_role(owner) == "member"


def test_it_keeps_the_last_owner(client, auth, owner, admin):
    auth.login(owner)

    demote = _role(client, _membership(owner), "admin")
    remove = _remove(client, _membership(owner))

    assert demote.status_code == remove.status_code == 422
    assert "An agency needs at least one owner." in html(demote)
    assert "An agency needs at least one owner." in html(remove)
    assert _refresh_role(owner) == "owner"
    assert events("team.role_changed") == events("team.member_removed") == []


def test_it_removes_a_member_who_then_loses_access(client, app, auth, admin, member):
    other = app.test_client()
    from conftest import Auth

    Auth(other).login(member)
    assert other.get("/app/").status_code == 200
    auth.login(admin)
    confirm = client.get(f"/app/team/members/{_membership(member).id}/remove")
    assert confirm.status_code == 200
    assert "loses access" in html(confirm)

    response = _remove(client, _membership(member))

    assert response.status_code == 303
    assert _refresh_role(member) is None
    assert other.get("/app/").headers["Location"].endswith("/auth/no-agency")
    assert events("team.member_removed")[0].details == {"email": member.email, "role": "member"}


def test_it_lets_a_person_leave_when_another_owner_remains(client, auth, owner, admin):
    auth.login(owner)
    _role(client, _membership(admin), "owner")

    response = _remove(client, _membership(owner))

    assert response.status_code == 303
    assert response.headers["Location"].endswith("/auth/no-agency")
    assert _refresh_role(owner) is None


# --------------------------------------------------------------- permissions


def test_it_refuses_team_changes_from_members_and_viewers(client, auth, owner, member, viewer):
    invitation_owner = member
    for person in (member, viewer):
        auth.login(person)
        assert _invite(client, "x@acme.test").status_code == 403
        assert _role(client, _membership(owner), "viewer").status_code == 403
        assert _remove(client, _membership(owner)).status_code == 403
        assert client.get(f"/app/team/members/{_membership(owner).id}/remove").status_code == 403
    assert _refresh_role(owner) == "owner"
    assert _refresh_role(invitation_owner) == "member"


def test_it_answers_404_for_another_agencys_people(client, app, auth, owner, member, outsider):
    auth.login(owner)
    _invite(client, "pending@acme.test")
    invitation = db.session.execute(select(Invitation)).scalar_one()
    auth.login(outsider)

    page = html(client.get(TEAM))
    assert member.email not in page
    assert "pending@acme.test" not in page
    assert _role(client, _membership(member), "viewer").status_code == 404
    assert _remove(client, _membership(member)).status_code == 404
    revoke = post_form(client, f"/app/team/invitations/{invitation.id}/revoke", {}, TEAM)
    assert revoke.status_code == 404
    assert _refresh_role(member) == "member"
    db.session.refresh(invitation)
    assert invitation.revoked_at is None


def test_it_refuses_a_team_change_without_the_csrf_token(client, auth, owner, member):
    auth.login(owner)

    response = client.post(
        f"/app/team/members/{_membership(member).id}/role", data={"role": "viewer"}
    )

    assert response.status_code == 400
    assert _refresh_role(member) == "member"


def test_it_sends_signed_out_visitors_to_sign_in(client, member):
    assert client.get(TEAM).status_code == 302
    assert client.post("/app/team/invite").status_code in (302, 400)


# ------------------------------------------------------- the agency's 2FA rule


def test_it_lets_an_owner_require_two_factor_once_theirs_is_on(client, auth, agency, owner):
    auth.login(owner)

    refused = post_form(client, "/app/team/settings", {"require_2fa": "y"}, TEAM)
    assert refused.status_code == 422
    assert "Turn on two-factor authentication for your own account first" in html(refused)
    db.session.refresh(agency)
    assert not agency.require_2fa

    owner.totp_secret = crypto.encrypt(pyotp.random_base32())
    totp.enable(owner, step=0)
    db.session.commit()
    accepted = post_form(client, "/app/team/settings", {"require_2fa": "y"}, TEAM)

    assert accepted.status_code == 303
    db.session.refresh(agency)
    assert agency.require_2fa
    assert events("agency.require_2fa_changed")[0].details == {"require_2fa": True}
    turned_off = post_form(client, "/app/team/settings", {}, TEAM)
    assert turned_off.status_code == 303
    db.session.refresh(agency)
    assert not agency.require_2fa


def test_it_lets_only_owners_change_the_two_factor_rule(client, auth, agency, admin):
    auth.login(admin)

    response = post_form(client, "/app/team/settings", {"require_2fa": "y"}, TEAM)

    assert response.status_code == 403
    db.session.refresh(agency)
    assert not agency.require_2fa


def test_it_audits_every_team_change_in_the_agencys_chain(client, app, auth, owner, member, outbox):
    from portal.audit import verify_chain

    auth.login(owner)
    _invite(client, "chain@acme.test")
    path = _invitation_path(app, outbox)
    post_form(
        app.test_client(), path, {"name": "C", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    _role(client, _membership(member), "admin")
    _remove(client, _membership(member))
    agency_id = owner.memberships[0].agency_id

    recorded = actions(agency_id)

    for action in (
        "team.invited",
        "team.invitation_accepted",
        "team.role_changed",
        "team.member_removed",
    ):
        assert action in recorded
    assert verify_chain(agency_id).ok
    assert PASSWORD not in str([e.details for e in events("team.invitation_accepted")])
