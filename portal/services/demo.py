"""The demo agency: `latchkey demo` makes it (idempotent) and prints a client link."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from ..extensions import db
from ..models import OPEN_REQUEST_STATUSES, AccessRequest, Agency, Template, User
from .agencies import create_agency

DEMO_EMAIL = "demo@latchkey.test"
# A known password is fine for a local demo; create_demo refuses to run in production.
DEMO_PASSWORD = "orchid lantern harbour 42"  # noqa: S105
DEMO_AGENCY = "Northwind Digital"

PINTEREST_ONBOARDING = [
    {"platform": "pinterest", "asset_type": "AD_ACCOUNT", "permissions": ["CAMPAIGN_MANAGER"]},
    {"platform": "pinterest", "asset_type": "PROFILE", "permissions": ["PROFILE_PUBLISHER"]},
    {"platform": "pinterest", "asset_type": "CATALOG", "permissions": ["CATALOGS_MANAGER"]},
]
PINTEREST_REPORTING = [
    {"platform": "pinterest", "asset_type": "AD_ACCOUNT", "permissions": ["ANALYST"]},
]
META_ONBOARDING = [
    {"platform": "meta", "asset_type": "AD_ACCOUNT", "permissions": ["ADVERTISE"]},
    {"platform": "meta", "asset_type": "PAGE", "permissions": ["CREATE_CONTENT"]},
    {"platform": "meta", "asset_type": "PIXEL", "permissions": ["ANALYZE"]},
]
TIKTOK_ADS = [
    {"platform": "tiktok", "asset_type": "ADVERTISER", "permissions": ["OPERATOR"]},
    {"platform": "tiktok", "asset_type": "CATALOG", "permissions": ["AD_PROMOTE"]},
]
LINKEDIN_ONBOARDING = [
    {"platform": "linkedin", "asset_type": "AD_ACCOUNT", "permissions": ["CAMPAIGN_MANAGER"]},
    {
        "platform": "linkedin",
        "asset_type": "ORGANIZATION",
        "permissions": ["ANALYST", "DIRECT_SPONSORED_CONTENT_POSTER"],
    },
]
GOOGLE_ONBOARDING = [
    {"platform": "google", "asset_type": "ADS_ACCOUNT", "permissions": ["MANAGER_LINK"]},
    {
        "platform": "google",
        "asset_type": "GA4_PROPERTY",
        "permissions": ["predefinedRoles/analyst"],
    },
    {"platform": "google", "asset_type": "TAG_MANAGER_CONTAINER", "permissions": ["publish"]},
    {"platform": "google", "asset_type": "BUSINESS_PROFILE_LOCATION", "permissions": ["MANAGER"]},
    {
        "platform": "google",
        "asset_type": "SEARCH_CONSOLE_PROPERTY",
        "permissions": ["siteFullUser"],
    },
]
SHOPIFY_AND_PINTEREST = [
    {"platform": "shopify", "asset_type": "STORE", "permissions": ["ONLINE_STORE", "APPS"]},
    {"platform": "pinterest", "asset_type": "AD_ACCOUNT", "permissions": ["CAMPAIGN_MANAGER"]},
]
GUIDED_IDENTITIES = {
    "snapchat": {"email": "ads@northwind.test"},
    "microsoft_ads": {"manager_account_id": "151234567"},
    "shopify": {"partner_organization": "Northwind Digital Partners"},
}


def create_demo() -> dict:
    """Create (or find) the demo agency, its templates and sandbox connections."""
    from .requests import create_request, request_url

    if current_app.config["LATCHKEY_ENV"] == "production":
        raise RuntimeError("the demo agency cannot be created in production")
    user = db.session.execute(select(User).where(User.email == DEMO_EMAIL)).scalar_one_or_none()
    if user is None:
        agency, user = create_agency(
            DEMO_AGENCY, DEMO_EMAIL, DEMO_PASSWORD, owner_name="Demo", email_verified=True
        )
        agency.support_email = "hello@northwind.test"
        agency.primary_color = "#0f766e"
        # Who the guided platforms' steps name (Snapchat, Microsoft Advertising, Shopify).
        agency.identities = {
            **(agency.identities or {}),
            **{platform: dict(values) for platform, values in GUIDED_IDENTITIES.items()},
        }
        db.session.add_all(
            [
                Template(
                    agency_id=agency.id,
                    name="Pinterest: ads, publishing and catalog",
                    message=(
                        "We will run your Pinterest campaigns, publish to your boards and keep "
                        "your product catalog healthy. Billing stays with you."
                    ),
                    items=PINTEREST_ONBOARDING,
                ),
                Template(
                    agency_id=agency.id,
                    name="Pinterest: reporting only",
                    message="We only need to read your ad results for monthly reports.",
                    items=PINTEREST_REPORTING,
                ),
                Template(
                    agency_id=agency.id,
                    name="Meta: ads, Page and pixel",
                    message=(
                        "We will run your Facebook and Instagram campaigns, post to your Page "
                        "and check that your pixel measures conversions. Billing stays with you."
                    ),
                    items=META_ONBOARDING,
                ),
                Template(
                    agency_id=agency.id,
                    name="TikTok: ads and catalog",
                    message=(
                        "We will run your TikTok campaigns and use your product catalog in "
                        "ads. Your Business Center keeps ownership and billing."
                    ),
                    items=TIKTOK_ADS,
                ),
                Template(
                    agency_id=agency.id,
                    name="LinkedIn: campaigns and Page ads",
                    message=(
                        "Our campaign lead will run your LinkedIn campaigns, sponsor your "
                        "Page's posts and report on the Page's results."
                    ),
                    items=LINKEDIN_ONBOARDING,
                ),
                Template(
                    agency_id=agency.id,
                    name="Google: Ads, Analytics, Tag Manager, Business Profile, Search Console",
                    message=(
                        "We will manage your Google Ads from our manager account, report from "
                        "Google Analytics, maintain your tags, answer reviews on your Business "
                        "Profile and watch your search performance. Ownership stays with you."
                    ),
                    items=GOOGLE_ONBOARDING,
                ),
                Template(
                    agency_id=agency.id,
                    name="Shopify store and Pinterest ads",
                    message=(
                        "We will install the Pinterest app and tag on your Shopify store and run "
                        "your Pinterest campaigns. Shopify has no sharing API: you follow three "
                        "short steps and send us your collaborator code."
                    ),
                    items=SHOPIFY_AND_PINTEREST,
                ),
            ]
        )
        db.session.commit()
    else:
        agency = db.session.get(Agency, user.memberships[0].agency_id)

    if current_app.config["LATCHKEY_SANDBOX"]:
        from ..sandbox.connect import connect_agency_to_sandbox

        connect_agency_to_sandbox(agency)

    existing = db.session.execute(
        select(AccessRequest)
        .where(
            AccessRequest.agency_id == agency.id,
            AccessRequest.status.in_(OPEN_REQUEST_STATUSES),
        )
        .order_by(AccessRequest.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if existing is not None:
        link = request_url(existing)
    else:
        template = (
            db.session.execute(
                select(Template).where(Template.agency_id == agency.id).order_by(Template.id)
            )
            .scalars()
            .first()
        )
        access_request, token = create_request(
            agency,
            user,
            client_name="Blue Harbor Outfitters",
            client_email="marketing@blueharbor.test",
            locale="en",
            items=template.items,
            message=template.message,
            template=template,
        )
        link = request_url(access_request, token)
    return {"email": DEMO_EMAIL, "password": DEMO_PASSWORD, "link": link, "agency": agency.slug}
