"""Pinterest API v5 connector (being completed: the methods below raise until then)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from .base import AssetType, Connector, OAuthEndpoints, Permission

P = Permission
ADMIN = P("ADMIN", _l("Admin"), _l("Full control of the asset, including its users."))
ANALYST = P("ANALYST", _l("Analyst"), _l("See reports and analytics; change nothing."))
CAMPAIGN_MANAGER = P(
    "CAMPAIGN_MANAGER",
    _l("Campaign manager"),
    _l("Create, edit and optimise campaigns, and see their reports."),
)
AUDIENCE_MANAGER = P(
    "AUDIENCE_MANAGER", _l("Audience manager"), _l("Create and share audiences for targeting.")
)
FINANCE_MANAGER = P(
    "FINANCE_MANAGER", _l("Finance manager"), _l("Manage billing and payment methods.")
)
FINANCE_VIEW = P(
    "FINANCE_VIEW", _l("Finance viewer"), _l("See invoices and spend; billing stays yours.")
)
CATALOGS_MANAGER = P(
    "CATALOGS_MANAGER", _l("Catalogs manager"), _l("Create and fix product feeds and catalogs.")
)
CATALOGS_VIEWER = P("CATALOGS_VIEWER", _l("Catalogs viewer"), _l("See catalogs and feed diagnostics."))
PROFILE_PUBLISHER = P(
    "PROFILE_PUBLISHER",
    _l("Profile publisher"),
    _l("Create and edit Pins on the profile's boards."),
)


class PinterestConnector(Connector):
    id = "pinterest"
    name = "Pinterest"
    real_urls = {
        "api": "https://api.pinterest.com/v5",
        "authorize": "https://www.pinterest.com/oauth/",
        "token": "https://api.pinterest.com/v5/oauth/token",
    }
    asset_types = (
        AssetType(
            "AD_ACCOUNT",
            _l("Ad account"),
            (ADMIN, CAMPAIGN_MANAGER, ANALYST, AUDIENCE_MANAGER, FINANCE_MANAGER, FINANCE_VIEW),
            _l("Ads Manager: campaigns, reporting and audiences."),
        ),
        AssetType(
            "PROFILE",
            _l("Profile (boards and Pins)"),
            (ADMIN, PROFILE_PUBLISHER, ANALYST),
            _l("Organic boards, Pin publishing and analytics."),
        ),
        AssetType(
            "CATALOG",
            _l("Catalog"),
            (CATALOGS_MANAGER, CATALOGS_VIEWER),
            _l("Product catalogs and feeds for shopping ads."),
        ),
        AssetType(
            "ASSET_GROUP",
            _l("Asset group"),
            (ADMIN, CAMPAIGN_MANAGER, ANALYST),
            _l("A group of assets shared together."),
        ),
    )

    def oauth_endpoints(self) -> OAuthEndpoints:
        urls = self.endpoints()
        return OAuthEndpoints(
            authorize_url=urls["authorize"],
            token_url=urls["token"],
            scopes=(
                "user_accounts:read",
                "biz_access:read",
                "biz_access:write",
                "ads:read",
                "boards:read",
                "catalogs:read",
            ),
            scope_separator=",",
        )

    def agency_identity(self, agency_token):
        raise NotImplementedError

    def preflight(self, client_token):
        raise NotImplementedError

    def list_assets(self, client_token, asset_type_ids):
        raise NotImplementedError

    def grant(self, client_token, agency_token, agency_identity, asset, permissions):
        raise NotImplementedError

    def verify(self, agency_token, agency_identity, asset_type, asset_id, permissions, external):
        raise NotImplementedError
