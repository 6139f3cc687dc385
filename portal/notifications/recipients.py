"""Who hears about what, and in which language."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from ..extensions import db
from ..models import AccessRequest, Agency, Client, Membership, User


@dataclass(frozen=True)
class Recipient:
    email: str
    locale: str
    name: str = ""


def _supported(locale: str | None, fallback: str = "en") -> str:
    languages = current_app.config.get("LANGUAGES") or {"en": "English"}
    if locale and locale in languages:
        return locale
    return fallback if fallback in languages else "en"


def client_of(access_request: AccessRequest) -> Recipient:
    """The client, in the language of the request (or, left to the client's
    browser, the one they were last seen with), else the agency's."""
    from ..i18n import request_locale

    client = access_request.client
    return Recipient(client.email, request_locale(access_request), client.name)


def client_recipient(client: Client) -> Recipient:
    agency = db.session.get(Agency, client.agency_id)
    fallback = _supported(agency.default_locale) if agency is not None else "en"
    return Recipient(client.email, _supported(client.locale, fallback), client.name)


def agency_people(agency: Agency, creator_id: int | None = None) -> list[Recipient]:
    """Owners and admins, and the person who created the request (any role).

    Each in their own language, or the agency's default; each address once.
    """
    default = _supported(agency.default_locale)
    rows = db.session.execute(
        select(User, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.agency_id == agency.id)
        .order_by(Membership.id)
    ).all()
    people: dict[str, Recipient] = {}
    for user, role in rows:
        if role in ("owner", "admin") or user.id == creator_id:
            email = user.email.strip().lower()
            people.setdefault(
                email, Recipient(user.email, _supported(user.locale, default), user.name)
            )
    return list(people.values())


def reply_to(agency: Agency, access_request: AccessRequest | None = None) -> str | None:
    """Replies go to the agency's support address (or the request's creator)."""
    if agency.support_email:
        return agency.support_email
    if access_request is not None and access_request.created_by_id:
        creator = db.session.get(User, access_request.created_by_id)
        if creator is not None:
            return creator.email
    return None


__all__ = ["Recipient", "agency_people", "client_of", "client_recipient", "reply_to"]
