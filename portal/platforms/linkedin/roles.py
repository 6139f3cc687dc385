"""LinkedIn's names: ad account and Page roles, URN prefixes and help pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..base import Permission

P = Permission
ACCOUNT_BILLING_ADMIN = P(
    "ACCOUNT_BILLING_ADMIN",
    _l("Billing admin"),
    _l(
        "Everything an account manager does, plus the payment method and invoices. An ad "
        "account has only one billing admin: giving this role moves billing away from you."
    ),
)
ACCOUNT_MANAGER = P(
    "ACCOUNT_MANAGER",
    _l("Account manager"),
    _l("Create and run campaigns, see reports, and manage who can access the ad account."),
)
CAMPAIGN_MANAGER = P(
    "CAMPAIGN_MANAGER",
    _l("Campaign manager"),
    _l("Create, edit and run campaigns, and see their reports."),
)
CREATIVE_MANAGER = P(
    "CREATIVE_MANAGER",
    _l("Creative manager"),
    _l("Create and edit ads and see reports; no campaign settings or budgets."),
)
VIEWER = P("VIEWER", _l("Viewer"), _l("See campaigns and reports; change nothing."))

ADMINISTRATOR = P(
    "ADMINISTRATOR", _l("Super admin"), _l("Full control of the Page, including its admins.")
)
CONTENT_ADMINISTRATOR = P(
    "CONTENT_ADMINISTRATOR",
    _l("Content admin"),
    _l("Post as the Page, and manage its content, comments and events."),
)
ANALYST = P("ANALYST", _l("Analyst"), _l("See the Page's analytics; change nothing."))
CURATOR = P(
    "CURATOR",
    _l("Curator"),
    _l("Recommend content for employees to share, and see its analytics."),
)
DIRECT_SPONSORED_CONTENT_POSTER = P(
    "DIRECT_SPONSORED_CONTENT_POSTER",
    _l("Sponsored Content poster"),
    _l("Run ads that appear as posted by the Page, from Campaign Manager."),
)
LEAD_GEN_FORMS_MANAGER = P(
    "LEAD_GEN_FORMS_MANAGER",
    _l("Lead gen forms manager"),
    _l("Download the leads collected by the Page's lead gen forms."),
)

# Ad account roles, weakest first: one role per person, a stronger one covers the weaker.
ACCOUNT_ROLE_ORDER = (
    "VIEWER",
    "CREATIVE_MANAGER",
    "CAMPAIGN_MANAGER",
    "ACCOUNT_MANAGER",
    "ACCOUNT_BILLING_ADMIN",
)
# Roles that may add people to an ad account / a Page.
ACCOUNT_ADMIN_ROLES = frozenset({"ACCOUNT_MANAGER", "ACCOUNT_BILLING_ADMIN"})
PAGE_ADMIN_ROLE = "ADMINISTRATOR"

ACCOUNT_URN = "urn:li:sponsoredAccount:"
ORGANIZATION_URN = "urn:li:organization:"
PERSON_URN = "urn:li:person:"

# Links to LinkedIn's own pages, shown with fixes.
CAMPAIGN_MANAGER_URL = "https://www.linkedin.com/campaignmanager/"
HELP_ACCOUNT_ROLES = "https://www.linkedin.com/help/lms/answer/a425731"
HELP_PAGE_ADMINS = "https://www.linkedin.com/help/linkedin/answer/a541981"
HELP_CREATE_PAGE = "https://www.linkedin.com/help/linkedin/answer/a543852"

MAX_PAGES = 50
