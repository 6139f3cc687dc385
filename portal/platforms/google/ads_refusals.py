"""Google Ads' refusals of a manager link, in words for people.

Google Ads names each refusal with a ManagerLinkError or AuthorizationError
code (google/ads/googleads/<version>/errors/*.proto, in
tests/platform_specs/google/ads-<version>.json); these are the ones a client
or an agency can do something about.
"""

from __future__ import annotations

from flask_babel import gettext as _

from ..base import PlatformError
from .api import google_error
from .common import refusal


def link_refusal(exc: PlatformError) -> PlatformError:
    reason = google_error(exc).reason
    words = {
        "NON_OWNER_USER_CANNOT_MODIFY_LINK": (
            _("Only an administrator of this Google Ads account can accept the link."),
            _(
                "Ask an administrator of the account to open this link and finish this "
                "step, or to give you administrator access in Google Ads (Admin → Access "
                "and security). Then press Retry."
            ),
            "not_admin",
        ),
        "USER_PERMISSION_DENIED": (
            _("This Google account cannot manage that Google Ads account."),
            _(
                "Sign in to Google with an administrator of the ad account, or ask one to "
                "give you administrator access (Admin → Access and security). Then press "
                "Retry."
            ),
            "not_admin",
        ),
        "TOO_MANY_MANAGERS": (
            _("This Google Ads account already has as many manager accounts as Google allows."),
            _(
                "Unlink a manager account you no longer use in Google Ads (Admin → Access "
                "and security → Managers), then press Retry."
            ),
            "too_many_managers",
        ),
        "ALREADY_MANAGED_IN_HIERARCHY": (
            _("This Google Ads account is already managed within the agency's accounts."),
            _("Nothing to do on your side: let the agency know it already has access."),
            "already_managed",
        ),
        "ACCOUNTS_NOT_COMPATIBLE_FOR_LINKING": (
            _("Google Ads does not let these two accounts be linked."),
            _(
                "A test account can only be linked to a test manager account. Check with "
                "the agency that you chose the right ad account."
            ),
            "not_compatible",
        ),
        "CUSTOMER_CANNOT_MANAGE_SELF": (
            _("You chose the agency's own manager account."),
            _("Sign in to Google with your own account and choose your ad account."),
            "same_account",
        ),
        "CLIENT_HAS_NO_ADMIN_USER": (
            _("This Google Ads account has no administrator, so nobody can accept the link."),
            _(
                "Give someone administrator access in Google Ads (Admin → Access and "
                "security), then press Retry."
            ),
            "no_admin",
        ),
        "TOO_MANY_INVITES": (
            _("The agency has too many link requests waiting in Google Ads."),
            _("Let the agency know; once it has cancelled old requests, press Retry."),
            "too_many_invites",
        ),
    }.get(reason)
    if words is None:
        return exc
    message, fix, code = words
    return refusal(exc, message, fix, code)


__all__ = ["link_refusal"]
