"""What Meta calls things: tasks, asset types, the Graph API edges and fields
Latchkey uses, Meta's error codes and its help pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..base import AssetType, Permission
from ..versions import META as META_VERSION

# The Graph API version (portal/platforms/versions.py); the description in
# tests/platform_specs/meta/ is of the same version.
GRAPH_VERSION = META_VERSION.version
P = Permission

# -- ad accounts (Meta's ad account tasks)
AD_MANAGE = P(
    "MANAGE",
    _l("Manage ad account"),
    _l("Full control: campaigns, reports, account settings and who can use the account."),
)
AD_ADVERTISE = P(
    "ADVERTISE",
    _l("Advertise"),
    _l("Create, edit and optimise campaigns and ads, and see their results."),
)
AD_ANALYZE = P("ANALYZE", _l("Analyse"), _l("See campaign results and reports; change nothing."))
AD_DRAFT = P("DRAFT", _l("Draft ads"), _l("Prepare ads as drafts for you to review and publish."))
# -- Pages (Meta's Page tasks)
PAGE_MANAGE = P(
    "MANAGE", _l("Full control"), _l("Everything on the Page, including who can manage it.")
)
PAGE_CREATE_CONTENT = P(
    "CREATE_CONTENT", _l("Content"), _l("Create, edit and schedule posts and stories as the Page.")
)
PAGE_MODERATE = P(
    "MODERATE", _l("Community activity"), _l("Reply to and moderate comments on the Page.")
)
PAGE_MESSAGING = P("MESSAGING", _l("Messages"), _l("Read and answer the Page's messages."))
PAGE_ADVERTISE = P("ADVERTISE", _l("Ads"), _l("Run ads for the Page and boost its posts."))
PAGE_ANALYZE = P("ANALYZE", _l("Insights"), _l("See how the Page and its posts perform."))
# -- pixels / datasets
PIXEL_ANALYZE = P("ANALYZE", _l("View"), _l("See the pixel's events and whether it fires."))
PIXEL_UPLOAD = P(
    "UPLOAD", _l("Upload events"), _l("Send conversion events (Conversions API) to the dataset.")
)
PIXEL_ADVERTISE = P(
    "ADVERTISE", _l("Use in ads"), _l("Use the pixel's events to measure and optimise ads.")
)
# -- catalogs
CATALOG_MANAGE = P(
    "MANAGE", _l("Manage catalog"), _l("Create and fix product feeds, and see diagnostics.")
)
CATALOG_ADVERTISE = P(
    "ADVERTISE", _l("Advertise"), _l("Use the catalog's products in ads (dynamic ads, shops).")
)
# -- Instagram accounts
IG_ADVERTISE = P("ADVERTISE", _l("Ads"), _l("Run ads with the Instagram account."))
IG_ANALYZE = P("ANALYZE", _l("Insights"), _l("See how the account and its posts perform."))
IG_CONTENT = P("CONTENT", _l("Content"), _l("Create and publish posts, reels and stories."))
IG_MESSAGES = P("MESSAGES", _l("Messages"), _l("Read and answer direct messages."))
IG_COMMUNITY = P(
    "COMMUNITY_ACTIVITY", _l("Community activity"), _l("Reply to and moderate comments.")
)

# *Assumption*: a task brings the narrower ones with it, as in Meta's role
# ladders (ad account: Manage > Advertise > Analyse; Page: Full control >
# Content > Community activity > Ads > Insights). Latchkey asks for the whole
# ladder and counts a broader task as covering a narrower one.
IMPLIED_TASKS: dict[str, dict[str, frozenset[str]]] = {
    "AD_ACCOUNT": {
        "MANAGE": frozenset({"ADVERTISE", "ANALYZE", "DRAFT"}),
        "ADVERTISE": frozenset({"ANALYZE", "DRAFT"}),
    },
    "PAGE": {
        "MANAGE": frozenset({"CREATE_CONTENT", "MODERATE", "MESSAGING", "ADVERTISE", "ANALYZE"}),
        "CREATE_CONTENT": frozenset({"MODERATE", "MESSAGING", "ADVERTISE", "ANALYZE"}),
        "MODERATE": frozenset({"MESSAGING", "ADVERTISE", "ANALYZE"}),
        "ADVERTISE": frozenset({"ANALYZE"}),
    },
    "PIXEL": {"ADVERTISE": frozenset({"ANALYZE"})},
    "CATALOG": {"MANAGE": frozenset({"ADVERTISE"})},
    "INSTAGRAM_ACCOUNT": {},
}

# Where each asset type lives on the Graph API.
OWNED_EDGES = {
    "AD_ACCOUNT": "owned_ad_accounts",
    "PAGE": "owned_pages",
    "PIXEL": "owned_pixels",
    "CATALOG": "owned_product_catalogs",
    "INSTAGRAM_ACCOUNT": "owned_instagram_assets",
}
CLIENT_EDGES = {
    "AD_ACCOUNT": "client_ad_accounts",
    "PAGE": "client_pages",
    "PIXEL": "client_pixels",
    "CATALOG": "client_product_catalogs",
    "INSTAGRAM_ACCOUNT": "client_instagram_assets",
}
# The fields asked for: each a declared field of the node the edge returns
# (Graph API node specs, tests/platform_specs/meta/graph_nodes.json).
ASSET_FIELDS = {
    "AD_ACCOUNT": "id,account_id,name,currency,timezone_name,account_status",
    "PAGE": "id,name,category",
    "PIXEL": "id,name,last_fired_time",
    "CATALOG": "id,name,vertical,product_count",
    # owned_instagram_assets returns InstagramBusinessAsset: id, ig_user_id, ig_username.
    "INSTAGRAM_ACCOUNT": "id,ig_user_id,ig_username",
}
# What the agency's side reads under `client_*`: `permitted_tasks` where
# Meta's reference adds it to the edge's nodes (client ad accounts, Pages and
# pixels); catalogs and Instagram accounts are listed without their tasks.
CLIENT_FIELDS = {
    "AD_ACCOUNT": "id,account_id,permitted_tasks",
    "PAGE": "id,permitted_tasks",
    "PIXEL": "id,permitted_tasks",
    "CATALOG": "id",
    "INSTAGRAM_ACCOUNT": "id",
}
# Access asked for and not yet approved by the client's admins, as Meta lists
# it for the agency (BusinessAdAccountRequest / BusinessPageRequest nodes).
PENDING_EDGES = {
    "AD_ACCOUNT": ("pending_client_ad_accounts", "ad_account", "id,ad_account{id,account_id}"),
    "PAGE": ("pending_client_pages", "page", "id,page{id}"),
}
MEMBERSHIP_FIELDS = "id,role,two_fac_status,business{id,name,two_factor_type,verification_status}"

REQUIRED_SCOPE = "business_management"
TWO_FACTOR_REQUIRED_TYPES = frozenset({"admin_required", "all_required"})
# *Assumption*: BusinessUser.two_fac_status values that mean "turned on".
TWO_FACTOR_ON = frozenset({"enabled", "two_fac_enabled", "on"})
# Meta's own error codes.
TOKEN_INVALID = 190
THROTTLE_CODES = frozenset({4, 17, 32, 341, 613}) | frozenset(range(80000, 80015))
TEMPORARY_CODES = frozenset({1, 2})
PERMISSION_CODES = frozenset({10}) | frozenset(range(200, 300))
UNSUPPORTED_REQUEST_SUBCODE = 33
# *Assumption*: Meta does not publish subcodes for these refusals; these are
# the sandbox's, and the wording of the message is the fallback.
NOT_ADMIN_SUBCODE = 1690061
TWO_FACTOR_SUBCODE = 1690062
NO_ACCESS_SUBCODE = 1690063
SAME_BUSINESS_SUBCODE = 1690064
BUSINESS_UNKNOWN_SUBCODE = 1690065
PAGE_TOKEN_REQUIRED = 210

# Meta's own pages, shown with fixes and manual steps.
BUSINESS_HOME = "https://business.facebook.com/"
CREATE_PORTFOLIO_HELP = "https://www.facebook.com/business/help/1710077379203657"
BUSINESS_SETTINGS = "https://business.facebook.com/settings"
PEOPLE_HELP = "https://www.facebook.com/business/help/442345745885606"
PARTNERS_HELP = "https://www.facebook.com/business/help/1717412048538897"
TWO_FACTOR_HELP = "https://www.facebook.com/help/148233965247823"
ACCOUNTS_CENTER_SECURITY = "https://accountscenter.facebook.com/password_and_security"
BILLING_URL = "https://business.facebook.com/billing_hub/"
MAX_PAGES = 50


def with_implied(asset_type: str, tasks: list[str]) -> list[str]:
    ladder = IMPLIED_TASKS.get(asset_type, {})
    result = set(tasks)
    for task in list(result):
        result |= ladder.get(task, frozenset())
    return sorted(result)


ASSET_TYPES = (
    AssetType(
        "AD_ACCOUNT",
        _l("Ad account"),
        (AD_MANAGE, AD_ADVERTISE, AD_ANALYZE, AD_DRAFT),
        _l("Meta Ads Manager: campaigns on Facebook and Instagram, and their results."),
    ),
    AssetType(
        "PAGE",
        _l("Facebook Page"),
        (
            PAGE_MANAGE,
            PAGE_CREATE_CONTENT,
            PAGE_MODERATE,
            PAGE_MESSAGING,
            PAGE_ADVERTISE,
            PAGE_ANALYZE,
        ),
        _l("Posts, messages, comments and insights of your Page."),
    ),
    AssetType(
        "PIXEL",
        _l("Pixel (dataset)"),
        (PIXEL_ANALYZE, PIXEL_UPLOAD, PIXEL_ADVERTISE),
        _l("The Meta pixel on your website and its conversion events."),
    ),
    AssetType(
        "CATALOG",
        _l("Catalog"),
        (CATALOG_MANAGE, CATALOG_ADVERTISE),
        _l("Product catalogs and feeds for shops and dynamic ads."),
    ),
    AssetType(
        "INSTAGRAM_ACCOUNT",
        _l("Instagram account"),
        (IG_CONTENT, IG_MESSAGES, IG_COMMUNITY, IG_ADVERTISE, IG_ANALYZE),
        _l("Posts, messages, comments, ads and insights of your Instagram account."),
    ),
)


def graph_node_id(asset_type: str, asset_id: str) -> str:
    """The Graph API node of an asset: ad accounts are `act_<account id>`."""
    if asset_type == "AD_ACCOUNT":
        return asset_id if str(asset_id).startswith("act_") else f"act_{asset_id}"
    return str(asset_id)
