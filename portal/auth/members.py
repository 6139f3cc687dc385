"""Team operations: invite, accept, revoke, change a role, remove, agency 2FA rule.

One function per verb, shared by the team pages and anything else that
changes a team, so the rules live in one place:

- only owners make, demote, invite or remove owners; admins never touch owners;
- an agency always keeps at least one owner;
- invitations are single-use, expire after INVITATION_DAYS and only their
  token's SHA-256 is stored.

Every change is audited in the agency's chain and committed here.
"""

from __future__ import annotations

import smtplib
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from .. import audit, crypto, mail
from ..extensions import db
from ..labels import ROLE_LABELS
from ..models import ROLE_RANK, ROLES, Agency, Invitation, Membership, User
from ..models.base import utcnow
from .common import external_url

INVITATION_DAYS = 7


class TeamError(Exception):
    """A team change that the rules refuse; the message says why and what to do."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.message = message
        self.status = status


def assignable_roles(actor: Membership) -> list[str]:
    """Roles `actor` may give: owners give any, admins any but owner, others none."""
    if actor.role == "owner":
        return list(ROLES)
    if actor.role == "admin":
        return [r for r in ROLES if r != "owner"]
    return []


def can_manage(actor: Membership, target_role: str) -> bool:
    """Whether `actor` may change or remove someone who has `target_role`."""
    if not actor.can("admin"):
        return False
    return actor.role == "owner" or target_role != "owner"


def invitation_status(invitation: Invitation) -> str:
    if invitation.accepted_at is not None:
        return "accepted"
    if invitation.revoked_at is not None:
        return "revoked"
    if invitation.expires_at <= utcnow():
        return "expired"
    return "pending"


def _lock_agency(agency_id: int) -> Agency:
    """Serialise team changes of one agency (the last-owner rule needs it)."""
    return db.session.execute(
        select(Agency).where(Agency.id == agency_id).with_for_update()
    ).scalar_one()


def _owner_count(agency_id: int) -> int:
    return db.session.execute(
        select(func.count())
        .select_from(Membership)
        .where(Membership.agency_id == agency_id, Membership.role == "owner")
    ).scalar_one()


def _refuse_owner_change(actor: Membership) -> None:
    if actor.role != "owner":
        raise TeamError(_("Only an owner can change who is an owner."), 403)


def _refuse_last_owner(agency_id: int) -> None:
    if _owner_count(agency_id) <= 1:
        raise TeamError(
            _(
                "An agency needs at least one owner. Make someone else an owner first, "
                "then try again."
            )
        )


# --------------------------------------------------------------- invitations


def invite(actor: Membership, email: str, role: str) -> tuple[Invitation, str]:
    """Create an invitation (replacing any open one for the address); return it and its token."""
    if role not in assignable_roles(actor):
        if role == "owner":
            raise TeamError(_("Only an owner can invite another owner."), 403)
        raise TeamError(_("Your role does not allow inviting people."), 403)
    agency_id = actor.agency_id
    now = utcnow()
    replaced = db.session.execute(
        update(Invitation)
        .where(
            Invitation.agency_id == agency_id,
            Invitation.email == email,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    token = crypto.new_token()
    invitation = Invitation(
        agency_id=agency_id,
        email=email,
        role=role,
        token_hash=crypto.token_hash(token),
        invited_by_id=actor.user_id,
        created_at=now,
        expires_at=now + timedelta(days=INVITATION_DAYS),
    )
    db.session.add(invitation)
    db.session.flush()
    audit.record(
        "team.invited",
        agency_id=agency_id,
        subject=("invitation", invitation.id),
        details={"email": email, "role": role, "replaced": replaced},
    )
    db.session.commit()
    return invitation, token


def send_invitation(invitation: Invitation, token: str, inviter: User) -> bool:
    """E-mail the invitation link; False (and logged) if the mail could not go out."""
    agency = invitation.agency
    existing = db.session.execute(
        select(User.locale).where(User.email == invitation.email)
    ).scalar_one_or_none()
    try:
        mail.send(
            invitation.email,
            _l("%(name)s invited you to Latchkey", name=agency.brand_name),
            "auth_invite",
            locale=existing or agency.default_locale or "en",
            reply_to=inviter.email,
            sender_name=agency.brand_name,
            brand_name=agency.brand_name,
            brand_color=agency.primary_color,
            inviter_name=inviter.name or inviter.email,
            role_label=ROLE_LABELS[invitation.role],
            link=external_url("auth.invite_accept", token=token),
            days=INVITATION_DAYS,
        )
    except (smtplib.SMTPException, OSError):
        current_app.logger.exception("the invitation e-mail %s failed", invitation.id)
        return False
    return True


def revoke(actor: Membership, invitation: Invitation) -> None:
    if invitation.role == "owner" and actor.role != "owner":
        raise TeamError(_("Only an owner can withdraw an invitation to become an owner."), 403)
    status = invitation_status(invitation)
    if status in ("accepted", "revoked"):
        raise TeamError(_("This invitation was already used or withdrawn."))
    invitation.revoked_at = utcnow()
    audit.record(
        "team.invitation_revoked",
        agency_id=invitation.agency_id,
        subject=("invitation", invitation.id),
        details={"email": invitation.email, "role": invitation.role},
    )
    db.session.commit()


def find_invitation(token: str) -> Invitation | None:
    if not token or len(token) > 128:
        return None
    return db.session.execute(
        select(Invitation).where(Invitation.token_hash == crypto.token_hash(token))
    ).scalar_one_or_none()


def accept(invitation: Invitation, user: User) -> Membership:
    """Join the agency through `invitation` (single use). The caller commits."""
    now = utcnow()
    claimed = db.session.execute(
        update(Invitation)
        .where(
            Invitation.id == invitation.id,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > now,
        )
        .values(accepted_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        db.session.rollback()
        raise TeamError(_("This invitation can no longer be used."), 410)
    membership = db.session.execute(
        select(Membership).where(
            Membership.agency_id == invitation.agency_id, Membership.user_id == user.id
        )
    ).scalar_one_or_none()
    already_member = membership is not None
    if membership is None:
        membership = Membership(
            agency_id=invitation.agency_id, user_id=user.id, role=invitation.role
        )
        db.session.add(membership)
        db.session.flush()
    audit.record(
        "team.invitation_accepted",
        agency_id=invitation.agency_id,
        actor=audit.Actor("user", str(user.id), user.email),
        subject=("invitation", invitation.id),
        details={
            "email": user.email,
            "role": membership.role,
            "already_member": already_member,
        },
    )
    return membership


# ------------------------------------------------------------------ members


def change_role(actor: Membership, target: Membership, new_role: str) -> bool:
    """Give `target` `new_role`; False when it already had it."""
    if new_role not in ROLES:
        raise TeamError(_("Choose one of the roles in the list."))
    if not actor.can("admin"):
        raise TeamError(_("Your role does not allow changing roles."), 403)
    if target.role == "owner" or new_role == "owner":
        _refuse_owner_change(actor)
    if target.role == new_role:
        return False
    _lock_agency(target.agency_id)
    db.session.refresh(target)
    if target.role == "owner" and ROLE_RANK[new_role] < ROLE_RANK["owner"]:
        _refuse_last_owner(target.agency_id)
    old_role = target.role
    target.role = new_role
    audit.record(
        "team.role_changed",
        agency_id=target.agency_id,
        subject=("user", target.user_id),
        details={"email": target.user.email, "from": old_role, "to": new_role},
    )
    db.session.commit()
    return True


def remove(actor: Membership, target: Membership) -> None:
    if not actor.can("admin"):
        raise TeamError(_("Your role does not allow removing people."), 403)
    if target.role == "owner":
        _refuse_owner_change(actor)
    _lock_agency(target.agency_id)
    db.session.refresh(target)
    if target.role == "owner":
        _refuse_last_owner(target.agency_id)
    audit.record(
        "team.member_removed",
        agency_id=target.agency_id,
        subject=("user", target.user_id),
        details={"email": target.user.email, "role": target.role},
    )
    db.session.delete(target)
    db.session.commit()


def set_require_2fa(actor: Membership, required: bool) -> bool:
    """Turn the agency's two-factor rule on or off; False when nothing changed."""
    if actor.role != "owner":
        raise TeamError(_("Only an owner can change this setting."), 403)
    agency = _lock_agency(actor.agency_id)
    if agency.require_2fa == required:
        return False
    if required and not actor.user.totp_enabled:
        raise TeamError(
            _("Turn on two-factor authentication for your own account first, then try again.")
        )
    agency.require_2fa = required
    audit.record(
        "agency.require_2fa_changed",
        agency_id=agency.id,
        subject=("agency", agency.id),
        details={"require_2fa": required},
    )
    db.session.commit()
    return True
