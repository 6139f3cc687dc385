"""Who is who on Meta: the person's business portfolios, their role and
two-factor status there, the agency's own portfolio, and the problems found
before the client shares anything."""

from __future__ import annotations

from typing import Any

from flask import g, has_request_context
from flask_babel import gettext as _
from flask_babel import ngettext

from ..base import PlatformError, Problem, Token
from .terms import (
    ACCOUNTS_CENTER_SECURITY,
    BUSINESS_HOME,
    BUSINESS_SETTINGS,
    CREATE_PORTFOLIO_HELP,
    MEMBERSHIP_FIELDS,
    PARTNERS_HELP,
    PEOPLE_HELP,
    REQUIRED_SCOPE,
    TWO_FACTOR_HELP,
    TWO_FACTOR_ON,
    TWO_FACTOR_REQUIRED_TYPES,
)


class People:
    """Portfolios and preflight (mixed into `MetaConnector`)."""

    def _memberships(self, token: Token) -> list[dict[str, Any]]:
        """The person's place in each business portfolio: role, 2FA, the portfolio."""
        return [
            m
            for m in self._paged("/me/business_users", token, {"fields": MEMBERSHIP_FIELDS})
            if (m.get("business") or {}).get("id")
        ]

    @staticmethod
    def _is_admin(membership: dict[str, Any]) -> bool:
        return str(membership.get("role") or "").upper() == "ADMIN"

    @staticmethod
    def _two_factor_blocks(membership: dict[str, Any]) -> bool:
        """The portfolio requires 2FA of its admins and this person has not turned it on."""
        business = membership.get("business") or {}
        required = str(business.get("two_factor_type") or "").lower() in TWO_FACTOR_REQUIRED_TYPES
        status = membership.get("two_fac_status")
        if not required or status is None:
            return False
        return str(status).lower() not in TWO_FACTOR_ON

    @staticmethod
    def _configured_business_id() -> str | None:
        """The Meta business id the agency typed in Connections → receiving identities."""
        if not has_request_context():
            return None
        agency = g.get("agency")
        identities = getattr(agency, "identities", None) or {}
        value = (identities.get("meta") or {}).get("business_id")
        return str(value) if value else None

    def agency_identity(self, agency_token: Token) -> dict[str, Any]:
        user = self._call("GET", "/me", agency_token, params={"fields": "id,name"})
        memberships = self._memberships(agency_token)
        wanted = self._configured_business_id()
        if wanted:
            chosen = next((m for m in memberships if m["business"]["id"] == wanted), None)
            if chosen is None:
                raise PlatformError(
                    _(
                        "This Facebook account is not in the Meta business portfolio %(id)s "
                        "set in your receiving identities.",
                        id=wanted,
                    ),
                    _(
                        "Sign in with a Facebook account that is an admin of that portfolio, "
                        "or correct the Meta business id under Receiving identities."
                    ),
                    code="wrong_business",
                )
        else:
            chosen = next((m for m in memberships if self._is_admin(m)), None)
            chosen = chosen or (memberships[0] if memberships else None)
        if chosen is None:
            raise PlatformError(
                _("This Facebook account has no Meta business portfolio."),
                _(
                    "Create your agency's business portfolio in Meta Business Suite "
                    "(%(url)s), then connect Meta again.",
                    url=BUSINESS_HOME,
                ),
                code="no_business",
            )
        business = chosen["business"]
        if not self._is_admin(chosen):
            raise PlatformError(
                _(
                    "This Facebook account is not an admin of %(business)s.",
                    business=business.get("name") or business["id"],
                ),
                _(
                    "Latchkey needs an admin of the agency's portfolio to check and remove "
                    "access. Ask an admin to connect Meta, or to make you an admin in "
                    "Business settings → People (%(url)s).",
                    url=BUSINESS_SETTINGS,
                ),
                code="not_admin",
            )
        return {
            "business_id": str(business["id"]),
            "name": business.get("name") or str(business["id"]),
            "user_id": str(user.get("id") or ""),
            "user_name": user.get("name"),
        }

    # -------------------------------------------------------- preflight

    def _granted_scopes(self, token: Token) -> set[str]:
        body = self._call("GET", "/me/permissions", token)
        return {
            str(p.get("permission"))
            for p in (body.get("data") if isinstance(body, dict) else None) or []
            if isinstance(p, dict) and p.get("status") == "granted"
        }

    def preflight(self, client_token: Token) -> list[Problem]:
        granted = self._granted_scopes(client_token)
        if REQUIRED_SCOPE not in granted:
            return [
                Problem(
                    "permission_declined",
                    _("Latchkey was not allowed to manage your business assets on Meta"),
                    _(
                        "Sharing goes through your business portfolio, so Meta must let "
                        "Latchkey manage it. Press Connect Meta again and, when Facebook asks, "
                        "keep “Manage your business” and every other permission ticked."
                    ),
                    help_url=PARTNERS_HELP,
                )
            ]
        problems: list[Problem] = []
        missing = [s for s in self.oauth_endpoints().scopes if s not in granted]
        if missing:
            problems.append(
                Problem(
                    "permission_partly_declined",
                    _("Some permissions were not allowed on Meta"),
                    _(
                        "Without them Latchkey cannot see all your assets (%(missing)s). "
                        "Press Connect Meta again and keep every permission ticked.",
                        missing=", ".join(missing),
                    ),
                    blocking=False,
                    help_url=PARTNERS_HELP,
                )
            )
        memberships = self._memberships(client_token)
        if not memberships:
            return [*problems, self._no_portfolio_problem(client_token, granted)]
        admin = [m for m in memberships if self._is_admin(m)]
        if not admin:
            business = memberships[0]["business"]
            name = business.get("name") or _("this business portfolio")
            problems.append(
                Problem(
                    "not_admin",
                    _("You are not an admin of %(business)s on Meta", business=name),
                    _(
                        "Only an admin of the business portfolio can share its assets with a "
                        "partner. Ask an admin of %(business)s to open this link, or to make "
                        "you an admin in Business settings → People (%(url)s), then connect "
                        "Meta again.",
                        business=name,
                        url=BUSINESS_SETTINGS,
                    ),
                    help_url=PEOPLE_HELP,
                )
            )
            return problems
        blocked = [m for m in admin if self._two_factor_blocks(m)]
        if blocked:
            names = ", ".join(m["business"].get("name") or m["business"]["id"] for m in blocked)
            problems.append(self._two_factor_problem(names, blocking=len(blocked) == len(admin)))
        return problems

    def _no_portfolio_problem(self, token: Token, granted: set[str]) -> Problem:
        personal: list[str] = []
        if "ads_management" in granted:
            personal = [
                a.get("name") or a.get("id")
                for a in self._paged("/me/adaccounts", token, {"fields": "id,name,business"})
                if not a.get("business")
            ]
        fix = _(
            "Meta shares assets between business portfolios, never from a personal profile. "
            "Create a free business portfolio in Meta Business Suite (%(url)s → Create a "
            "business portfolio), add your Page and ad account to it, then come back to this "
            "page and press Check again.",
            url=BUSINESS_HOME,
        )
        if personal:
            fix += " " + ngettext(
                "Your ad account %(accounts)s is personal: in Business settings → Accounts → "
                "Ad accounts, choose Add → Add an ad account and enter its id.",
                "Your ad accounts %(accounts)s are personal: in Business settings → Accounts → "
                "Ad accounts, choose Add → Add an ad account and enter each id.",
                len(personal),
                accounts=", ".join(str(p) for p in personal),
            )
        return Problem(
            "personal_account",
            _("Your Facebook profile has no business portfolio"),
            fix,
            help_url=CREATE_PORTFOLIO_HELP,
        )

    @staticmethod
    def _two_factor_problem(business_names: str, blocking: bool = True) -> Problem:
        return Problem(
            "two_factor_off",
            _("%(business)s requires two-factor authentication", business=business_names),
            _(
                "Meta only lets admins with two-factor authentication share the portfolio's "
                "assets. Turn it on in Accounts Center → Password and security → Two-factor "
                "authentication (%(url)s), then press Retry (or Check again).",
                url=ACCOUNTS_CENTER_SECURITY,
            ),
            blocking=blocking,
            help_url=TWO_FACTOR_HELP,
        )
