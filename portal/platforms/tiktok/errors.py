"""TikTok's answers in people's words: return codes and refusals to share.

Every TikTok answer is HTTP 200 with a return `code` in the body (0 is
success): `tiktok_error` turns a non-zero code into the same plain-language
errors as an HTTP failure. Where TikTok publishes no code for an obstacle,
the message text decides (`sharing_refusal`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask_babel import gettext as _

from .. import http
from ..base import PlatformError
from .roles import INVALID_PARAMETERS, NO_PERMISSION, RATE_LIMITED, TOKEN_CODES

PLATFORM = "TikTok"


def tiktok_error(body: dict[str, Any], method: str, url: str) -> http.PlatformHTTPError:
    """TikTok's return code, in the same words as an HTTP failure."""
    code, said = body.get("code"), str(body.get("message") or "")[:500]
    detail = f"TikTok code {code} on {method} {urlsplit(url).path}: {said}"
    common = {
        "platform_code": code,
        "platform_message": said,
        "body": body,
        "detail": detail,
    }
    platform = PLATFORM
    if code in TOKEN_CODES:
        return http.PlatformHTTPError(
            _("Your %(platform)s sign-in has expired or was withdrawn.", platform=platform),
            _(
                "Sign in to %(platform)s again, then try once more. Nothing you "
                "already granted is lost.",
                platform=platform,
            ),
            status=401,
            code="token_expired",
            **common,
        )
    if code == NO_PERMISSION:
        return http.PlatformHTTPError(
            _(
                "%(platform)s refused: this account does not have the permission needed.",
                platform=platform,
            ),
            _(
                "Sign in to %(platform)s with an account that manages these assets "
                "(an admin of the business), and accept every permission asked for.",
                platform=platform,
            ),
            status=403,
            code="forbidden",
            **common,
        )
    if code == RATE_LIMITED:
        return http.PlatformHTTPError(
            _("%(platform)s is receiving too many requests right now.", platform=platform),
            _("Wait a minute, then try again."),
            status=429,
            code="rate_limited",
            retryable=True,
            **common,
        )
    if isinstance(code, int) and code >= 50000:
        return http.PlatformHTTPError(
            _("%(platform)s had a problem on its side.", platform=platform),
            _("Nothing you did caused this. Try again in a minute."),
            status=500,
            code="platform_unavailable",
            retryable=True,
            **common,
        )
    return http.PlatformHTTPError(
        _("%(platform)s did not accept the request.", platform=platform),
        _(
            "Try again. If it keeps failing, contact Latchkey support and quote "
            "the technical detail."
        ),
        status=400,
        code="rejected",
        **common,
    )


def sharing_refusal(exc: http.PlatformHTTPError, business: str) -> PlatformError:
    """Explain TikTok's refusals of a partner share in the client's terms."""
    said = (exc.platform_message or "").lower()
    if exc.code == "forbidden" and ("2-step" in said or "two-step" in said):
        return PlatformError(
            _("Your Business Center asks for 2-step verification first"),
            _(
                "%(business)s's security settings only let people with 2-step "
                "verification share assets. Turn it on in your TikTok for Business "
                "account settings (Security), then press Retry.",
                business=business,
            ),
            status=403,
            code="two_factor_off",
            detail=exc.detail,
        )
    if exc.code == "forbidden" and "admin" in said:
        return PlatformError(
            _("Only an admin of your TikTok Business Center can share its assets."),
            _(
                "Ask an admin of %(business)s to open this link and finish this step, or "
                "to make you an admin (Users → Members). Then press Retry.",
                business=business,
            ),
            status=403,
            code="not_admin",
            detail=exc.detail,
        )
    if exc.platform_code == INVALID_PARAMETERS and "does not exist" in said:
        return PlatformError(
            _("TikTok could not find the agency's Business Center."),
            _("Let the agency know: it should connect TikTok again in Latchkey."),
            status=400,
            code="agency_business_missing",
            detail=exc.detail,
        )
    return exc


# ----------------------------------------------------------- verify
