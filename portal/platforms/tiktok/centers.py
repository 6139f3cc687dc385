"""Who is who on TikTok: the Business Centers of a login, the agency's, the preflight.

A mixin of `TikTokConnector` (`_paged` and `name` come from it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from flask import g, has_request_context
from flask_babel import gettext as _

from ..base import PlatformError, Problem, Token
from .roles import BC_ADMIN, BUSINESS_CENTER_URL, HELP_BUSINESS_CENTER, HELP_MEMBERS


class BusinessCenters:
    _paged: Callable[..., Iterator[dict[str, Any]]]

    # ------------------------------------------------------- who is who

    def _business_centers(self, token: Token) -> list[dict[str, Any]]:
        """{"bc_id", "name", "type", "user_role"} for each Business Center of this login."""
        centers = []
        for item in self._paged("/bc/get/", token, {}):
            info = item.get("bc_info") or {}
            if not info.get("bc_id"):
                continue
            centers.append(
                {
                    "bc_id": str(info["bc_id"]),
                    "name": info.get("name") or str(info["bc_id"]),
                    "type": info.get("type"),
                    "user_role": str(item.get("user_role") or "").upper(),
                }
            )
        return centers

    @staticmethod
    def _main_center(centers: list[dict[str, Any]], prefer_agency: bool = False):
        """The Business Center to act for: one this login administers (an agency's
        own, when that is what is asked), else the first one."""
        admin = [c for c in centers if c["user_role"] == BC_ADMIN]
        if prefer_agency:
            agency = [c for c in admin if str(c.get("type") or "").upper() == "AGENCY"]
            if agency:
                return agency[0]
        if admin:
            return admin[0]
        return centers[0] if centers else None

    @staticmethod
    def _configured_business_center() -> str | None:
        """The Business Center id the agency typed in Connections → receiving identities
        (read while the agency connects TikTok, when its settings are at hand)."""
        if not has_request_context():
            return None
        identities = getattr(g.get("agency"), "identities", None) or {}
        value = (identities.get("tiktok") or {}).get("business_id")
        return str(value) if value else None

    def agency_identity(self, agency_token: Token) -> dict[str, Any]:
        centers = self._business_centers(agency_token)
        wanted = self._configured_business_center()
        if wanted:
            center = next((c for c in centers if c["bc_id"] == wanted), None)
            if center is None:
                raise PlatformError(
                    _(
                        "This TikTok for Business account is not a member of the Business "
                        "Center %(id)s set in your receiving identities.",
                        id=wanted,
                    ),
                    _(
                        "Sign in with an admin of that Business Center, or correct the TikTok "
                        "Business Center id under Receiving identities."
                    ),
                    code="wrong_business",
                )
        else:
            # Agency staff often belong to their clients' Business Centers too:
            # prefer the agency's own (type AGENCY), else the first one administered.
            center = self._main_center(centers, prefer_agency=True)
        if center is None:
            raise PlatformError(
                _("This TikTok for Business account has no Business Center."),
                _(
                    "Create your agency's Business Center for free at %(url)s, then connect "
                    "TikTok again.",
                    url=BUSINESS_CENTER_URL,
                ),
                code="no_business",
            )
        return {
            "business_id": center["bc_id"],
            "name": center["name"],
            "user_role": center["user_role"],
        }

    # -------------------------------------------------------- preflight

    def preflight(self, client_token: Token) -> list[Problem]:
        centers = self._business_centers(client_token)
        if not centers:
            return [
                Problem(
                    "no_business_center",
                    _("Your TikTok for Business account has no Business Center"),
                    _(
                        "Sharing with an agency goes through a TikTok Business Center. Create "
                        "one for free at %(url)s, add your ad account to it (Assets → Ad "
                        "accounts → Add), then come back to this page.",
                        url=BUSINESS_CENTER_URL,
                    ),
                    help_url=HELP_BUSINESS_CENTER,
                )
            ]
        center = self._main_center(centers)
        if center["user_role"] != BC_ADMIN:
            return [
                Problem(
                    "not_admin",
                    _("You are not an admin of %(business)s on TikTok", business=center["name"]),
                    _(
                        "Only a Business Center admin can add partners and share ad accounts. "
                        "Ask an admin of %(business)s to open this link, or to make you an "
                        "admin (Users → Members), then sign in again.",
                        business=center["name"],
                    ),
                    help_url=HELP_MEMBERS,
                )
            ]
        return []
