"""What the client does by hand on Pinterest: the Tag, and keeping billing."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..base import ManualStep
from .terms import ADS_MANAGER_URL


def manual_steps(asset_type_id: str, permissions: list[str]) -> list[ManualStep]:
    if asset_type_id == "TAG":
        return [
            ManualStep(
                _l("Install the Pinterest Tag on your website"),
                (
                    _l(
                        "Open Pinterest Ads Manager, choose the ad account the agency "
                        "asked about, then Conversions → Pinterest Tag."
                    ),
                    _l(
                        "If there is no tag yet, create one and add its code to every "
                        "page of your website (or install it through your shop platform's "
                        "Pinterest app)."
                    ),
                    _l(
                        "Open your website in a private browser window and visit two or "
                        "three pages, so the tag reports a visit."
                    ),
                    _l(
                        "Check that your cookie banner lets the tag run once a visitor "
                        "agrees, and that event names (page visit, add to cart, checkout) "
                        "match what the agency asked for."
                    ),
                    _l(
                        "Come back here: the agency checks that the tag reports visits. "
                        "It can take up to an hour to show."
                    ),
                ),
                link=ADS_MANAGER_URL,
            ),
        ]
    if asset_type_id == "AD_ACCOUNT" and (
        "FINANCE_VIEW" in permissions or "FINANCE_MANAGER" in permissions
    ):
        steps = [
            _l(
                "Billing stays yours: keep your own payment method on the ad account "
                "(Ads Manager → Billing). If there is none yet, add it yourself; the "
                "agency never needs your card details."
            ),
            _l(
                "The agency asked for Finance viewer: it can see invoices and spend, "
                "but cannot change payment methods or billing settings."
            ),
        ]
        if "FINANCE_MANAGER" in permissions:
            steps.append(
                _l(
                    "The agency also asked to manage billing (Finance manager). If you "
                    "prefer to keep billing to yourself, untick it: Finance viewer is "
                    "enough for reporting."
                )
            )
        steps.append(
            _l(
                "You can check or remove the agency's access at any time in Business "
                "Access → Partners."
            )
        )
        return [
            ManualStep(
                _l("Keep billing in your name"),
                tuple(steps),
                link=ADS_MANAGER_URL,
                verifiable=True,
            )
        ]
    return []
