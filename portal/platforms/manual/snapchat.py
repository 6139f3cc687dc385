"""Snapchat: the client invites the agency's member e-mail in Business Manager.

Snap has no API for one organisation to share an ad account with another,
and inviting a member needs an admin of the client's organisation. So the
client follows the steps in Business Manager (business.snapchat.com): invite
the agency's Snapchat login as an organisation Member, give it a role on the
ad account, and send back the ad account's id. The agency accepts the
invitation Snapchat e-mails it and confirms the access here.

Role names are Snap's own (Marketing API "Roles": the organisation role
`member`, and the ad account roles below).
"""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..base import AssetType, Permission
from .base import Guide, GuideContext, GuidedConnector, ReplyField

BUSINESS_MANAGER_URL = "https://business.snapchat.com/"
MEMBERS_HELP = "https://businesshelp.snapchat.com/s/article/invite-members"

ADMIN = Permission(
    "admin",
    _l("Admin"),
    _l("Full control of the ad account, including its members and billing settings."),
)
GENERAL = Permission(
    "general",
    _l("General"),
    _l("Create, edit and optimise campaigns, ads and creatives, and see their reports."),
)
CREATIVE = Permission(
    "creative", _l("Creative"), _l("Upload and manage creatives and media; see campaigns.")
)
REPORTS = Permission("reports", _l("Reports"), _l("See reports only; change nothing."))
AUDIENCE = Permission(
    "audience", _l("Audience"), _l("Create and manage audience segments for targeting.")
)

AD_ACCOUNT_ID = ReplyField(
    "ad_account_id",
    _l("Ad account ID"),
    _l(
        "In Business Manager, open Ad Accounts and choose the account: its ID is in the "
        "account details, a long code of letters, digits and dashes."
    ),
    kind="uuid",
    identifies_asset=True,
    example="4f2c8a1e-9b7d-4c3e-8f21-6a5b4c3d2e1f",
    invalid=_l(
        "An ad account ID is a long code like 4f2c8a1e-9b7d-4c3e-8f21-6a5b4c3d2e1f: "
        "copy it from the ad account's details."
    ),
    max_length=36,
)


class SnapchatConnector(GuidedConnector):
    id = "snapchat"
    name = "Snapchat"
    grants_to_business = False  # access goes to the agency's member e-mail
    identity_fields = (("email", _l("Snapchat member e-mail")),)
    asset_types = (
        AssetType(
            "AD_ACCOUNT",
            _l("Ad account"),
            (ADMIN, GENERAL, CREATIVE, REPORTS, AUDIENCE),
            _l("Snapchat Ads Manager: campaigns, Snap Pixel and reporting."),
            manual=True,
        ),
    )

    def reply_fields(self, asset_type_id: str) -> tuple[ReplyField, ...]:
        return (AD_ACCOUNT_ID,) if asset_type_id == "AD_ACCOUNT" else ()

    def guide(self, asset_type_id: str, permissions: list[str], context: GuideContext) -> Guide:
        email = context.identity.get("email") or ""
        agency = context.agency_name
        roles = self.permission_labels(asset_type_id, permissions)
        account = context.sent_back.get("ad_account_id") or _("the ad account")
        return Guide(
            title=_("Invite %(agency)s to your Snapchat ad account", agency=agency),
            intro=_(
                "Snapchat has no way for Latchkey to share an ad account for you. You invite "
                "%(agency)s's Snapchat login yourself; it takes about two minutes.",
                agency=agency,
            ),
            steps=[
                _(
                    "Sign in to Snapchat Business Manager (business.snapchat.com) with a login "
                    "that is an admin of your organisation."
                ),
                _("Open the menu at the top left and choose Members."),
                _(
                    "Press Invite Members. Enter the e-mail address %(email)s and the name "
                    "%(agency)s, and choose the organisation role Member (not Admin).",
                    email=email,
                    agency=agency,
                ),
                _(
                    "In the ad account access of the invitation, add the ad account %(agency)s "
                    "will work on and give it the role %(roles)s. Then send the invitation.",
                    agency=agency,
                    roles=roles,
                ),
                _(
                    "Copy that ad account's ID (Business Manager → Ad Accounts → the account's "
                    "details) and paste it below."
                ),
            ],
            fields=self.reply_fields(asset_type_id),
            next_steps=[
                _(
                    "Snapchat e-mails the invitation to %(email)s. Until %(agency)s accepts it, "
                    "the member shows as invited in Members: that is expected.",
                    email=email,
                    agency=agency,
                ),
                _(
                    "%(agency)s then checks that it sees the ad account with the role "
                    "%(roles)s and confirms it here. There is nothing more for you to do.",
                    agency=agency,
                    roles=roles,
                ),
                _(
                    "You can change the role or remove %(agency)s at any time in Business "
                    "Manager → Members.",
                    agency=agency,
                ),
            ],
            agency_steps=[
                _(
                    "Open the invitation Snapchat sent to %(email)s and accept it, signed in with "
                    "that Snapchat login.",
                    email=email or _("your Snapchat member e-mail"),
                ),
                _(
                    "In Ads Manager, check that ad account %(account)s is listed with the role "
                    "%(roles)s.",
                    account=account,
                    roles=roles,
                ),
                _("Then press “Mark the step done” here."),
            ],
            link=BUSINESS_MANAGER_URL,
            link_label=_("Open Snapchat Business Manager"),
            several=True,
        )
