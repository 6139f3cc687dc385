"""Microsoft Advertising: the agency sends a client link request, the client accepts it.

The link starts from the agency's manager account (it needs the client's
account number) and is accepted by a Super Admin of the client's account in
Microsoft Advertising (gear icon → Accounts & Billing → Requests). The API
for both sides (AddClientLinks / UpdateClientLinks) needs a developer token
and the agency's own sign-in, so Latchkey guides the two people through the
web interface instead: the client sends its account number, the agency sends
the link request, the client accepts it, and the agency confirms the access.

*Assumption*: an account number is 8 letters and digits (the Bing Ads API
describes AdvertiserAccount.Number as "xxxxxxxx, any eight alphanumeric
characters"); change ACCOUNT_NUMBER_PATTERN here if that proves wrong.
"""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..base import AssetType, Permission
from .base import Guide, GuideContext, GuidedConnector, ReplyField

ADS_URL = "https://ads.microsoft.com/"
ACCOUNT_NUMBER_PATTERN = r"^[A-Z0-9]{8}$"

CLIENT_LINK = Permission(
    "CLIENT_LINK",
    _l("Account link (direct manager)"),
    _l(
        "The agency's manager account manages campaigns, budgets, ads and bids. You keep "
        "access to your account, and billing stays yours."
    ),
)
BILL_TO_AGENCY = Permission(
    "BILL_TO_AGENCY",
    _l("Agency pays the invoices (bill-to customer)"),
    _l(
        "The agency becomes the bill-to customer: it pays the account's advertising from then "
        "on. Leave it out to keep billing yourself."
    ),
)

ACCOUNT_NUMBER = ReplyField(
    "account_number",
    _l("Account number"),
    _l(
        "Gear icon → Accounts & Billing → Accounts tab, column “Account number”: 8 letters and "
        "digits, like F1234ABC. It is not the longer numeric account ID."
    ),
    kind="pattern",
    pattern=ACCOUNT_NUMBER_PATTERN,
    normalise=lambda value: value.replace(" ", "").replace("-", "").upper(),
    identifies_asset=True,
    example="F1234ABC",
    invalid=_l(
        "An account number has 8 letters and digits, like F1234ABC. Copy it from Accounts & "
        "Billing → Accounts."
    ),
    max_length=8,
)


class MicrosoftAdsConnector(GuidedConnector):
    id = "microsoft_ads"
    name = "Microsoft Advertising"
    grants_to_business = True  # linked to the agency's manager account
    identity_fields = (("manager_account_id", _l("Microsoft Advertising manager account id")),)
    asset_types = (
        AssetType(
            "ACCOUNT",
            _l("Ad account"),
            (CLIENT_LINK, BILL_TO_AGENCY),
            _l("Microsoft Advertising (Bing) campaigns, run from the agency's manager account."),
            manual=True,
        ),
    )

    def reply_fields(self, asset_type_id: str) -> tuple[ReplyField, ...]:
        return (ACCOUNT_NUMBER,) if asset_type_id == "ACCOUNT" else ()

    def guide(self, asset_type_id: str, permissions: list[str], context: GuideContext) -> Guide:
        agency = context.agency_name
        manager = context.identity.get("manager_account_id") or ""
        number = context.sent_back.get("account_number") or _("the client's account number")
        agency_pays = "BILL_TO_AGENCY" in permissions
        if agency_pays:
            billing = _(
                "The request asks to make %(agency)s the bill-to customer: it pays the account's "
                "advertising from the day you accept. Decline the request and tell %(agency)s if "
                "that was not agreed.",
                agency=agency,
            )
            agency_billing = _("Under billing, choose to take over billing (you become bill-to).")
        else:
            billing = _(
                "The request leaves billing unchanged: you stay the bill-to customer and keep "
                "your payment method."
            )
            agency_billing = _("Under billing, choose “Leave current billing settings unchanged”.")
        return Guide(
            title=_("Link your Microsoft Advertising account to %(agency)s", agency=agency),
            intro=_(
                "%(agency)s manages your account from its own manager account. You send your "
                "account number here; %(agency)s then sends you a link request, and you accept it.",
                agency=agency,
            ),
            steps=[
                _(
                    "Sign in at ads.microsoft.com with a login that has the Super Admin role on "
                    "your account: only a Super Admin can accept an agency's request."
                ),
                _(
                    "Select the gear icon, then Accounts & Billing. On the Accounts tab, find the "
                    "account %(agency)s will manage and copy its Account number (8 letters and "
                    "digits, like F1234ABC).",
                    agency=agency,
                ),
                _("Paste the account number below and press Send."),
            ],
            fields=self.reply_fields(asset_type_id),
            next_steps=[
                _(
                    "%(agency)s sends a link request from its manager account %(manager)s. "
                    "Microsoft Advertising e-mails you when it arrives; you have 30 days to "
                    "accept it.",
                    agency=agency,
                    manager=manager,
                ),
                _(
                    "To accept it: select the gear icon, then Accounts & Billing, open the "
                    "Requests tab and choose Received. Find the request from manager account "
                    "%(manager)s and press Accept request.",
                    manager=manager,
                ),
                billing,
                _(
                    "Only accept a request from manager account %(manager)s. Once you have "
                    "accepted it, %(agency)s confirms here that it manages the account.",
                    manager=manager,
                    agency=agency,
                ),
            ],
            agency_steps=[
                _(
                    "Sign in to Microsoft Advertising with your manager account %(manager)s and "
                    "open the Accounts summary.",
                    manager=manager or _("(set its id in Connections)"),
                ),
                _(
                    "Choose Link to accounts → One or multiple Microsoft Advertising accounts, "
                    "and enter the account number %(number)s.",
                    number=number,
                ),
                agency_billing,
                _(
                    "Send the request. When %(client)s has accepted it, the account appears in "
                    "your Accounts summary: then press “Mark the step done” here.",
                    client=context.client_name,
                ),
            ],
            link=ADS_URL,
            link_label=_("Open Microsoft Advertising"),
            several=True,
        )
