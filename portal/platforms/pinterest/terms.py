"""What Pinterest calls things: permissions, asset types, links and codes."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..base import AssetType, Permission

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
CATALOGS_VIEWER = P(
    "CATALOGS_VIEWER", _l("Catalogs viewer"), _l("See catalogs and feed diagnostics.")
)
PROFILE_PUBLISHER = P(
    "PROFILE_PUBLISHER",
    _l("Profile publisher"),
    _l("Create and edit Pins on the profile's boards."),
)
VERIFY_TAG = P(
    "VERIFY_TAG",
    _l("Tag installed and firing"),
    _l(
        "The Pinterest Tag is on your website and reports visits, so the agency can "
        "measure conversions. The agency only checks it; it changes nothing."
    ),
)

# Links to Pinterest's own pages, shown with fixes and manual steps.
HELP_BUSINESS_ACCOUNT = "https://help.pinterest.com/en/business/article/get-a-business-account"
CONVERT_URL = "https://www.pinterest.com/business/convert/"
BUSINESS_ACCESS_HELP = "https://help.pinterest.com/en/business/article/business-access"
BUSINESS_ACCESS_URL = "https://www.pinterest.com/business/business-access/"
TWO_FACTOR_HELP = "https://help.pinterest.com/en/article/two-factor-authentication"
SECURITY_SETTINGS_URL = "https://www.pinterest.com/settings/security"
ADS_MANAGER_URL = "https://ads.pinterest.com/"
TAG_HELP = "https://help.pinterest.com/en/business/article/install-the-pinterest-tag"
BILLING_HELP = "https://help.pinterest.com/en/business/article/billing-for-ads"

# The business role that may accept partner requests and share assets
# (`GET /businesses/employers` → business_roles: EMPLOYEE, BIZ_ADMIN, PARTNER).
ADMIN_ROLE = "BIZ_ADMIN"
# Pinterest publishes no error codes for business access. These are the
# sandbox's (`portal.sandbox.inventions.PINTEREST`); each check also reads the
# wording of Pinterest's message, so the real platform is understood too.
NOT_BUSINESS_ADMIN = 9001
TWO_FACTOR_REQUIRED = 9002
ALREADY_PARTNERS = 9003
INVITE_ALREADY_PENDING = 9004
# How long ago the Tag may have fired and still count as working.
TAG_RECENT_SECONDS = 7 * 24 * 3600
MAX_PAGES = 50

ASSET_TYPES = (
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
    AssetType(
        "TAG",
        _l("Pinterest Tag"),
        (VERIFY_TAG,),
        _l("Conversion tracking on your website, checked on one of your ad accounts."),
        manual=True,
    ),
)
