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


_STEPS = {"pinterest": _pinterest}


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
