"""TikTok's names: asset roles, return codes and help pages (shared by the connector modules)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..base import Permission

P = Permission
ADVERTISER_ADMIN = P(
    "ADMIN",
    _l("Admin"),
    _l("Full control of the ad account: campaigns, reports, finance and account settings."),
)
OPERATOR = P(
    "OPERATOR",
    _l("Operator"),
    _l("Create and edit campaigns and audiences, and see reports; no finance or settings."),
)
ANALYST = P("ANALYST", _l("Analyst"), _l("See ads, performance and reports; change nothing."))
CATALOG_ADMIN = P("ADMIN", _l("Catalog admin"), _l("Manage the catalog: products, feeds and sets."))
AD_PROMOTE = P(
    "AD_PROMOTE",
    _l("Catalog advertiser"),
    _l("Use the catalog's products in ads; change nothing in the catalog."),
)

# Roles by asset type, weakest first: a stronger role covers the weaker ones.
ROLE_ORDER: dict[str, tuple[str, ...]] = {
    "ADVERTISER": ("ANALYST", "OPERATOR", "ADMIN"),
    "CATALOG": ("AD_PROMOTE", "ADMIN"),
}
ROLE_FIELD = {"ADVERTISER": "advertiser_role", "CATALOG": "catalog_role"}

# TikTok's return codes (the `code` of every answer).
OK = 0
NO_PERMISSION = 40001
INVALID_PARAMETERS = 40002
RATE_LIMITED = 40100
INVALID_APP = 40101
TOKEN_CODES = frozenset({40102, 40103, 40104, 40105, 40106, 40107})
INVALID_AUTH_CODE = 40110

# Links to TikTok's own pages, shown with fixes.
BUSINESS_CENTER_URL = "https://business.tiktok.com/"
HELP_PARTNERS = "https://ads.tiktok.com/help/article?aid=13989"
HELP_MEMBERS = "https://ads.tiktok.com/help/article/add-users-tiktok-business-center"
HELP_BUSINESS_CENTER = "https://ads.tiktok.com/help/article/business-center-faqs"

BC_ADMIN = "ADMIN"
MAX_PAGES = 50
