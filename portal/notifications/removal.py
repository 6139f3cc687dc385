"""How to remove an agency's access, platform by platform, in plain steps.

Shown in the quarterly access review so that a client (or the agency) can end
any access it no longer wants without asking anyone.
"""

from __future__ import annotations

from flask_babel import gettext as _

from .. import platforms
from ..models import Grant


def _pinterest(grant: Grant, agency_name: str) -> list[str]:
    if grant.asset_type == "TAG":
        return [
            _("The Pinterest Tag gives the agency no access of its own."),
            _(
                "To stop sharing what it measures, remove the tag's code from your website, "
                "or remove the agency's access to the ad account it reports to."
            ),
        ]
    return [
        _("Sign in to Pinterest with the business account that owns it."),
        _("Open Business settings → Partners."),
        _("Choose %(agency)s, open its Assets tab and remove this asset.", agency=agency_name),
        _("To end all of the agency's access at once, press Remove partner instead."),
    ]


def _meta(grant: Grant, agency_name: str) -> list[str]:
    return [
        _(
            "Sign in to Meta Business Suite (business.facebook.com) with an admin of the "
            "business portfolio that owns it."
        ),
        _("Open Settings → Users → Partners and choose %(agency)s.", agency=agency_name),
        _(
            "In its shared assets, find %(asset)s and remove it, or remove only the tasks "
            "you no longer want.",
            asset=grant.asset_name or grant.asset_id,
        ),
        _("To end all of the agency's access at once, press Remove partner instead."),
    ]


_STEPS = {"pinterest": _pinterest, "meta": _meta}


# ------------------------------------------------ guided manual platforms


def _snapchat(grant: Grant, agency_name: str) -> list[str]:
    return [
        _("Sign in to Snapchat Business Manager (business.snapchat.com) as an organisation admin."),
        _("Open the menu at the top left and choose Members."),
        _(
            "Choose %(agency)s's member, then remove its access to ad account %(asset)s, or "
            "remove the member from your organisation to end all of its access.",
            agency=agency_name,
            asset=grant.asset_id or grant.asset_name,
        ),
    ]


def _microsoft_ads(grant: Grant, agency_name: str) -> list[str]:
    return [
        _("Sign in at ads.microsoft.com with a Super Admin of your account."),
        _("Select the gear icon, then Accounts & Billing, and open the Accounts tab."),
        _(
            "Open account %(asset)s and unlink %(agency)s's manager account. If %(agency)s "
            "paid the invoices, add your own payment method first so the ads keep running.",
            asset=grant.asset_id or grant.asset_name,
            agency=agency_name,
        ),
    ]


def _shopify(grant: Grant, agency_name: str) -> list[str]:
    return [
        _("Sign in to your Shopify admin as the store owner."),
        _("Open Settings → Users. Under Collaborators, choose %(agency)s.", agency=agency_name),
        _("Press Remove collaborator, then confirm."),
    ]


def _other_tool(grant: Grant, agency_name: str) -> list[str]:
    try:
        asset_type = platforms.get(grant.platform).asset_type(grant.asset_type)
    except KeyError:
        asset_type = None
    tool = str(asset_type.name) if asset_type else grant.asset_type
    return [
        _("Sign in to %(tool)s with an administrator login.", tool=tool),
        _(
            "Remove the access you gave %(agency)s when you followed its steps (the login, "
            "e-mail or key you added).",
            agency=agency_name,
        ),
    ]


_STEPS.update(snapchat=_snapchat, microsoft_ads=_microsoft_ads, shopify=_shopify, other=_other_tool)


# ------------------------------------------------------- TikTok and LinkedIn


def _tiktok(grant: Grant, agency_name: str) -> list[str]:
    return [
        _("Sign in to TikTok Business Center (business.tiktok.com) as an admin."),
        _("Open Users → Partners and choose %(agency)s.", agency=agency_name),
        _(
            "Remove %(asset)s from the assets you share with it, or remove the partner to "
            "end all of its access at once.",
            asset=grant.asset_name or grant.asset_id,
        ),
    ]


def _linkedin(grant: Grant, agency_name: str) -> list[str]:
    person = (grant.external or {}).get("agency_person_name") or agency_name
    if grant.asset_type == "ORGANIZATION":
        return [
            _("Open your LinkedIn Page as a super admin (the admin view)."),
            _("Go to Settings → Manage admins."),
            _("Find %(person)s (%(agency)s), then remove them.", person=person, agency=agency_name),
        ]
    return [
        _(
            "Sign in to LinkedIn Campaign Manager and open ad account %(asset)s.",
            asset=grant.asset_name or grant.asset_id,
        ),
        _("Open Account settings → Manage access, then press Edit."),
        _("Remove %(person)s (%(agency)s) and save.", person=person, agency=agency_name),
    ]


_STEPS.update(tiktok=_tiktok, linkedin=_linkedin)


def _google(grant: Grant, agency_name: str) -> list[str]:
    # Each Google product has its own people settings: the connector knows them.
    steps = platforms.get("google").removal_steps(grant.asset_type, agency_name)
    return steps or [_("Remove %(agency)s in the Google product's settings.", agency=agency_name)]


_STEPS["google"] = _google


def removal_steps(grant: Grant, agency_name: str) -> list[str]:
    """The steps, in the current locale, to remove `grant` on its platform."""
    steps = _STEPS.get(grant.platform)
    if steps is not None:
        return steps(grant, agency_name)
    try:
        platform_name = platforms.get(grant.platform).name
    except KeyError:
        platform_name = grant.platform
    return [
        _(
            "In %(platform)s, open the settings where people and partners are managed.",
            platform=platform_name,
        ),
        _("Remove %(agency)s from this asset.", agency=agency_name),
    ]


__all__ = ["removal_steps"]
