"""Shopify: collaborator access for the agency's Partner organisation.

A Partner requests collaborator access to a store with the store's permanent
myshopify.com address and, when the store asks for one (the default since
December 2023), its 4-digit collaborator request code from Settings → Users →
Security. The store owner then accepts the request in Settings → Users →
Collaborators. Shopify offers no public API for either side, so the client
sends its store address and code here, the agency sends the request from its
Partner organisation, the owner accepts it, and the agency confirms.

Permission ids are Shopify's own permission areas, as a collaborator request
lists them.
"""

from __future__ import annotations

import re

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..base import AssetType, Permission
from .base import Guide, GuideContext, GuidedConnector, ReplyField

ADMIN_URL = "https://admin.shopify.com/"
STORE_PATTERN = r"^[a-z0-9][a-z0-9-]{0,60}\.myshopify\.com$"

P = Permission
PERMISSIONS = (
    P("PRODUCTS", _l("Products"), _l("See and edit products, collections and inventory.")),
    P("ORDERS", _l("Orders"), _l("See and manage orders.")),
    P("CUSTOMERS", _l("Customers"), _l("See and manage customer records.")),
    P("ANALYTICS", _l("Analytics"), _l("See reports and analytics; change nothing.")),
    P("MARKETING", _l("Marketing"), _l("Create and manage marketing campaigns and automations.")),
    P("DISCOUNTS", _l("Discounts"), _l("Create and manage discount codes.")),
    P(
        "ONLINE_STORE",
        _l("Online Store"),
        _l("Edit themes, pages and preferences, for example to install a tracking tag."),
    ),
    P(
        "APPS",
        _l("Apps and channels"),
        _l("Install and manage apps and sales channels, such as Pinterest or Google."),
    ),
    P("SETTINGS", _l("Settings"), _l("Change store settings, except ownership and billing.")),
)


def _store_address(value: str) -> str:
    """`https://Shop.myshopify.com/admin` → `shop.myshopify.com`."""
    value = value.strip().lower()
    value = re.sub(r"^https?://", "", value)
    return value.split("/", 1)[0].strip(".")


STORE = ReplyField(
    "store",
    _l("Store address"),
    _l(
        "Your store's permanent address, like your-store.myshopify.com (Settings → Domains). "
        "Not your own domain name."
    ),
    kind="pattern",
    pattern=STORE_PATTERN,
    normalise=_store_address,
    identifies_asset=True,
    example="your-store.myshopify.com",
    invalid=_l(
        "Enter the address that ends in .myshopify.com, like your-store.myshopify.com. You find "
        "it in Settings → Domains."
    ),
    max_length=80,
)
CODE = ReplyField(
    "collaborator_code",
    _l("Collaborator request code"),
    _l(
        "4 digits, from Settings → Users → Security. Leave it empty only if your store lets "
        "anyone send a collaborator request."
    ),
    kind="pattern",
    pattern=r"^\d{4}$",
    normalise=lambda value: value.replace(" ", ""),
    required=False,
    example="0123",
    invalid=_l("The collaborator request code has exactly 4 digits, like 0123."),
    max_length=4,
)


class ShopifyConnector(GuidedConnector):
    id = "shopify"
    name = "Shopify"
    grants_to_business = True  # the agency's Partner organisation
    identity_fields = (("partner_organization", _l("Shopify Partner organisation name")),)
    asset_types = (
        AssetType(
            "STORE",
            _l("Store (collaborator access)"),
            PERMISSIONS,
            _l(
                "Your Shopify admin, as a collaborator account: it uses none of your staff "
                "seats and you can remove it at any time."
            ),
            manual=True,
        ),
    )

    def reply_fields(self, asset_type_id: str) -> tuple[ReplyField, ...]:
        return (STORE, CODE) if asset_type_id == "STORE" else ()

    def guide(self, asset_type_id: str, permissions: list[str], context: GuideContext) -> Guide:
        agency = context.agency_name
        organisation = context.identity.get("partner_organization") or agency
        areas = self.permission_labels(asset_type_id, permissions)
        store = context.sent_back.get("store") or _("the client's store")
        code = context.sent_back.get("collaborator_code")
        return Guide(
            title=_("Give %(agency)s collaborator access to your Shopify store", agency=agency),
            intro=_(
                "%(agency)s asks Shopify for collaborator access from its Partner organisation "
                "“%(organisation)s”. You send the two details it needs here, then approve its "
                "request in your Shopify admin.",
                agency=agency,
                organisation=organisation,
            ),
            steps=[
                _(
                    "Sign in to your Shopify admin as the store owner, or as staff allowed to "
                    "approve collaborator requests."
                ),
                _(
                    "Open Settings (bottom left) → Users. In the Security section, copy the "
                    "4-digit collaborator request code."
                ),
                _(
                    "Open Settings → Domains and note your store's address that ends in "
                    ".myshopify.com."
                ),
                _("Enter both below and press Send."),
            ],
            fields=self.reply_fields(asset_type_id),
            next_steps=[
                _(
                    "%(agency)s sends a collaborator request from “%(organisation)s” for: "
                    "%(areas)s. Shopify e-mails the store owner when it arrives.",
                    agency=agency,
                    organisation=organisation,
                    areas=areas,
                ),
                _(
                    "To approve it: Settings → Users. Under Collaborators, press Review request "
                    "next to “%(organisation)s”, check the permissions, then press Accept request.",
                    organisation=organisation,
                ),
                _(
                    "Only accept a request from “%(organisation)s”. A collaborator uses none of "
                    "your staff seats, and you can remove it at any time in Settings → Users.",
                    organisation=organisation,
                ),
                _(
                    "Once you have accepted it, %(agency)s confirms here that it can open your "
                    "store.",
                    agency=agency,
                ),
            ],
            agency_steps=[
                _(
                    "In the Shopify Dev Dashboard (Partner organisation “%(organisation)s”), open "
                    "Stores → Request store access.",
                    organisation=organisation,
                ),
                _(
                    "Enter %(store)s and the collaborator request code %(code)s, tick these "
                    "permissions: %(areas)s, and send the request.",
                    store=store,
                    code=code or _("(none: the store does not ask for one)"),
                    areas=areas,
                ),
                _(
                    "When %(client)s has accepted it, the store is listed in your collaborations: "
                    "then press “Mark the step done” here.",
                    client=context.client_name,
                ),
            ],
            link=ADMIN_URL,
            link_label=_("Open your Shopify admin"),
            several=True,
        )
