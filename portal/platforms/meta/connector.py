"""The Meta connector: what it offers, how to sign in, the client's assets,
and the steps that stay manual (the other calls live in the mixins)."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l

from .. import http
from ..base import Asset, Connector, ManualStep, OAuthEndpoints, Token
from .graph import GraphClient
from .people import People
from .sharing import Sharing
from .terms import ASSET_FIELDS, ASSET_TYPES, BILLING_URL, GRAPH_VERSION, OWNED_EDGES
from .tokens import Tokens


class MetaConnector(Tokens, People, Sharing, GraphClient, Connector):
    id = "meta"
    name = "Meta"
    exchanges_live_token = True  # long-lived tokens, no refresh token
    real_urls = {
        "api": f"https://graph.facebook.com/{GRAPH_VERSION}",
        "authorize": f"https://www.facebook.com/{GRAPH_VERSION}/dialog/oauth",
        "token": f"https://graph.facebook.com/{GRAPH_VERSION}/oauth/access_token",
    }
    asset_types = ASSET_TYPES
    # Seconds to wait for Meta before giving up on a call.
    timeout: float = http.DEFAULT_TIMEOUT
    # Items asked for per page of a list.
    page_size: int = 100
    # When Meta asks to wait a few seconds, the call waits and is sent again, so
    # work of several calls gets through a few calls at a time. Longer waits (or
    # more waiting than this per call) are passed on as a "rate_limited" error.
    rate_limit_patience: float = 8.0
    longest_rate_limit_wait: float = 5.0

    def oauth_endpoints(self) -> OAuthEndpoints:
        # The token endpoint is called by `exchange_code` / `refresh_token`
        # (tokens.py) the documented way, not through Authlib.
        urls = self.endpoints()
        # Ask again for permissions the person unticked the last time.
        extra = {"auth_type": "rerequest"}
        # Facebook Login for Business: the configuration made in the app dashboard.
        config_id = current_app.config.get("META_LOGIN_CONFIG_ID")
        if config_id:
            extra["config_id"] = str(config_id)
        return OAuthEndpoints(
            authorize_url=urls["authorize"],
            token_url=urls["token"],
            scopes=(
                "business_management",
                "ads_management",
                "pages_show_list",
                "pages_manage_metadata",
                "catalog_management",
            ),
            scope_separator=",",
            # Meta takes client_id and client_secret as parameters.
            token_endpoint_auth_method="client_secret_post",  # noqa: S106 (a method name)
            extra_authorize_params=extra,
        )

    # ----------------------------------------------------------- assets

    def list_assets(self, client_token: Token, asset_type_ids: list[str]) -> dict[str, list[Asset]]:
        wanted = [t for t in asset_type_ids if t in OWNED_EDGES]
        result: dict[str, list[Asset]] = {t: [] for t in asset_type_ids}
        if not wanted:
            return result
        memberships = self._memberships(client_token)
        # The portfolios this person can share from; with none, what they can see.
        portfolios = [m["business"] for m in memberships if self._is_admin(m)] or [
            m["business"] for m in memberships
        ]
        for type_id in wanted:
            for business in portfolios:
                for node in self._paged(
                    f"/{business['id']}/{OWNED_EDGES[type_id]}",
                    client_token,
                    {"fields": ASSET_FIELDS[type_id]},
                ):
                    result[type_id].append(self._asset(type_id, node, business))
        return result

    @staticmethod
    def _asset(type_id: str, node: dict[str, Any], business: dict[str, Any]) -> Asset:
        details: dict[str, Any] = {
            "business_id": str(business["id"]),
            "business_name": business.get("name"),
        }
        if type_id == "AD_ACCOUNT":
            account_id = str(node.get("account_id") or str(node["id"]).removeprefix("act_"))
            details.update(
                currency=node.get("currency"),
                timezone=node.get("timezone_name"),
                account_status=node.get("account_status"),
            )
            return Asset(account_id, node.get("name") or f"act_{account_id}", type_id, details)
        if type_id == "PAGE":
            details["category"] = node.get("category")
        elif type_id == "PIXEL":
            details["last_fired_time"] = node.get("last_fired_time")
        elif type_id == "CATALOG":
            details.update(vertical=node.get("vertical"), product_count=node.get("product_count"))
        if type_id == "INSTAGRAM_ACCOUNT":
            details["ig_user_id"] = node.get("ig_user_id")
            handle = node.get("ig_username")
            name = f"@{handle}" if handle else str(node["id"])
        else:
            name = node.get("name") or str(node["id"])
        return Asset(str(node["id"]), name, type_id, details)

    # ----------------------------------------------------- manual steps

    def manual_steps(
        self,
        asset_type_id: str,
        permissions: list[str],
        agency_identity: dict[str, Any] | None = None,
    ) -> list[ManualStep]:
        if asset_type_id == "AD_ACCOUNT" and "MANAGE" in permissions:
            return [
                ManualStep(
                    _l("Keep billing in your name"),
                    (
                        _l(
                            "Billing stays yours: keep your own payment method on the ad account "
                            "(Meta Billing & payments). If there is none yet, add it yourself; "
                            "the agency never needs your card details."
                        ),
                        _l(
                            "The agency asked to manage the ad account: it can also change the "
                            "account's settings. If campaigns and reports are enough, ask it "
                            "for Advertise instead."
                        ),
                        _l(
                            "You can check or remove the agency's access at any time in "
                            "Business settings → Partners."
                        ),
                    ),
                    link=BILLING_URL,
                    verifiable=True,
                )
            ]
        return []
