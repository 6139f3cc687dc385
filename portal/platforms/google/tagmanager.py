"""Google Tag Manager: user permissions for the agency's Google account.

Tag Manager keeps one user permission per person and account: an account
access (`user` or `admin`) and a list of container accesses (`read`, `edit`,
`approve`, `publish`). The client's token creates the agency's permission
(`POST /accounts/{id}/user_permissions`) or, when the agency already has one,
updates it (`PUT .../user_permissions/{id}`) without ever lowering what it
already had. Only account administrators may do either. Access is immediate.

Verification uses the agency's token: the account and container must be in
its lists. When the agency may read the account's permissions (it is an
administrator) the exact access is checked; otherwise the access Google
confirmed at the grant is reported.

*Assumptions*: `accounts.list` is how the agency sees an account (platforms.md
marks it unconfirmed); a second permission for the same e-mail is refused
(409), so an existing one is read and updated instead.
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..base import (
    Asset,
    AssetType,
    GrantResult,
    Permission,
    PlatformError,
    Problem,
    Token,
    VerifyResult,
)
from .common import (
    Product,
    Survey,
    covers,
    failed,
    invalid_permissions,
    rank,
    refusal,
    require_email,
    strongest,
)

SCOPES = (
    "https://www.googleapis.com/auth/tagmanager.readonly",
    "https://www.googleapis.com/auth/tagmanager.manage.users",
)
P = Permission
USER = P(
    "user",
    _l("User"),
    _l("See the account; what can be done in each container is set per container."),
)
ADMIN = P("admin", _l("Administrator"), _l("Manage the account and its users, create containers."))
READ = P("read", _l("Read"), _l("See tags, triggers and variables; change nothing."))
EDIT = P("edit", _l("Edit"), _l("Create and change tags in workspaces; cannot publish."))
APPROVE = P("approve", _l("Approve"), _l("Also create versions ready to publish."))
PUBLISH = P(
    "publish",
    _l("Publish"),
    _l("Full container access, including publishing changes to your website."),
)
ACCOUNT_ORDER = ("noAccess", USER.id, ADMIN.id)
CONTAINER_ORDER = ("noAccess", READ.id, EDIT.id, APPROVE.id, PUBLISH.id)

TAG_MANAGER_CONTAINER = AssetType(
    "TAG_MANAGER_CONTAINER",
    _l("Tag Manager container"),
    (READ, EDIT, APPROVE, PUBLISH),
    _l("The tags, triggers and variables of one website or app."),
)
TAG_MANAGER_ACCOUNT = AssetType(
    "TAG_MANAGER_ACCOUNT",
    _l("Tag Manager account"),
    (USER, ADMIN),
    _l("The Tag Manager account itself: its users and containers."),
)
TAG_MANAGER_URL = "https://tagmanager.google.com/"
USERS_HELP = "https://support.google.com/tagmanager/answer/6107011"


def split_container(asset_id: str) -> tuple[str, str]:
    """Split a container path: accounts/1/containers/2 -> ("1", "2"); ("", "") if malformed."""
    parts = str(asset_id).strip("/").split("/")
    if len(parts) == 4 and parts[0] == "accounts" and parts[2] == "containers":
        return parts[1], parts[3]
    return "", ""


class TagManager(Product):
    key = "tagmanager"
    name = "Tag Manager"
    url_name = "tagmanager"
    scopes = SCOPES
    asset_types = (TAG_MANAGER_CONTAINER, TAG_MANAGER_ACCOUNT)

    def accounts(self, token: Token, memo: dict[str, Any] | None = None) -> list[dict]:
        if memo is not None and "tagmanager:accounts" in memo:
            return memo["tagmanager:accounts"]
        found = list(self.api.pages("/accounts", token, "account"))
        if memo is not None:
            memo["tagmanager:accounts"] = found
        return found

    def containers(self, token: Token, account_id: str) -> list[dict]:
        return list(self.api.pages(f"/accounts/{account_id}/containers", token, "container"))

    def permissions(self, token: Token, account_id: str) -> list[dict]:
        return list(
            self.api.pages(f"/accounts/{account_id}/user_permissions", token, "userPermission")
        )

    def permission_of(self, token: Token, account_id: str, email: str) -> dict | None:
        for permission in self.permissions(token, account_id):
            if str(permission.get("emailAddress") or "").lower() == email:
                return permission
        return None

    # ------------------------------------------------------- client side

    def survey(self, token: Token) -> Survey:
        accounts = self.accounts(token)
        if not accounts:
            return Survey(False)
        names = []
        for account in accounts[:3]:
            try:
                self.permissions(token, str(account.get("accountId")))
                return Survey(True)
            except PlatformError as exc:
                if exc.status != 403 or exc.code == "scope_missing":
                    raise
                names.append(account.get("name") or str(account.get("accountId")))
        return Survey(
            True,
            [
                Problem(
                    "not_admin_tag_manager",
                    _(
                        "You are not an Administrator of %(accounts)s in Tag Manager",
                        accounts=", ".join(f"“{n}”" for n in names),
                    ),
                    _(
                        "Only an account Administrator can give access in Tag Manager. If the "
                        "agency asked for Tag Manager, ask an Administrator to open this link, "
                        "or to make you one (Admin → User Management), then press Check again."
                    ),
                    blocking=False,
                    help_url=USERS_HELP,
                )
            ],
        )

    def list_assets(self, token: Token, asset_type_id: str, memo: dict[str, Any]) -> list[Asset]:
        assets = []
        for account in self.accounts(token, memo):
            account_id = str(account.get("accountId") or "")
            account_name = account.get("name") or account_id
            if asset_type_id == TAG_MANAGER_ACCOUNT.id:
                assets.append(Asset(account_id, account_name, TAG_MANAGER_ACCOUNT.id))
                continue
            for container in self.containers(token, account_id):
                container_id = str(container.get("containerId") or "")
                public_id = container.get("publicId") or ""
                name = container.get("name") or container_id
                assets.append(
                    Asset(
                        id=f"accounts/{account_id}/containers/{container_id}",
                        name=f"{name} ({public_id})" if public_id else name,
                        type=TAG_MANAGER_CONTAINER.id,
                        details={
                            "account": account_name,
                            "public_id": public_id,
                            "usage": list(container.get("usageContext") or ()),
                        },
                    )
                )
        return assets

    def grant(
        self,
        client_token: Token,
        agency_token: Token | None,
        identity: dict[str, Any],
        asset: Asset,
        permissions: list[str],
    ) -> GrantResult:
        is_account = asset.type == TAG_MANAGER_ACCOUNT.id
        order = ACCOUNT_ORDER if is_account else CONTAINER_ORDER
        wanted = strongest(order[1:], permissions)
        asset_type = TAG_MANAGER_ACCOUNT if is_account else TAG_MANAGER_CONTAINER
        if wanted is None:
            return invalid_permissions(asset_type)
        if is_account:
            account_id, container_id = asset.id, ""
        else:
            account_id, container_id = split_container(asset.id)
            if not account_id:
                return invalid_permissions(asset_type)
        external: dict[str, Any] = {
            "product": self.key,
            "account_id": account_id,
            "container_id": container_id,
            "permission": wanted,
        }
        try:
            email = require_email(identity)
            external["email"] = email
            saved = self._give(client_token, account_id, container_id, email, wanted, asset)
        except PlatformError as exc:
            return failed(exc, external)
        external["user_permission"] = saved.get("path")
        return GrantResult("granted", external=external)

    def _give(
        self,
        token: Token,
        account_id: str,
        container_id: str,
        email: str,
        wanted: str,
        asset: Asset,
    ) -> dict:
        try:
            existing = self.permission_of(token, account_id, email)
            body = _merged(existing, email, account_id, container_id, wanted)
            if existing is not None:
                if body == _comparable(existing):
                    return existing  # it already has at least this
                return self.api.call("PUT", f"/{existing['path']}", token, json=body)
            return self.api.call(
                "POST", f"/accounts/{account_id}/user_permissions", token, json=body
            )
        except PlatformError as exc:
            if exc.status == 403 and exc.code == "forbidden":
                raise refusal(
                    exc,
                    _("Only an Administrator of the Tag Manager account can give access."),
                    _(
                        "Ask an Administrator of the account to open this link and finish this "
                        "step, or to make you an Administrator (Admin → User Management). Then "
                        "press Retry."
                    ),
                ) from None
            raise

    # ------------------------------------------------------- agency side

    def verify(
        self,
        agency_token: Token,
        identity: dict[str, Any],
        asset_type: str,
        asset_id: str,
        permissions: list[str],
        external: dict[str, Any],
    ) -> VerifyResult:
        email = require_email(identity)
        is_account = asset_type == TAG_MANAGER_ACCOUNT.id
        order = ACCOUNT_ORDER if is_account else CONTAINER_ORDER
        wanted = strongest(order[1:], permissions) or order[1]
        account_id, container_id = (asset_id, "") if is_account else split_container(asset_id)
        accounts = {str(a.get("accountId")) for a in self.accounts(agency_token)}
        visible = account_id in accounts
        if visible and not is_account:
            visible = any(
                str(c.get("containerId")) == container_id
                for c in self.containers(agency_token, account_id)
            )
        if not visible:
            return VerifyResult(
                "missing",
                message=_(
                    "The agency's Google account (%(email)s) does not see this in Tag Manager.",
                    email=email,
                ),
            )
        try:
            mine = self.permission_of(agency_token, account_id, email)
        except PlatformError as exc:
            if exc.status != 403:
                raise
            if is_account and wanted == ADMIN.id:
                # Only administrators may read permissions: the agency is not one.
                return VerifyResult(
                    "insufficient",
                    permissions=(USER.id,),
                    message=_(
                        "The agency sees the Tag Manager account as a User, not an Administrator."
                    ),
                )
            granted = str((external or {}).get("permission") or wanted)
            return VerifyResult("verified", permissions=(granted,))
        have = _access_of(mine, container_id) if mine else None
        if covers(order, have, [wanted]):
            return VerifyResult("verified", permissions=(have,))
        return VerifyResult(
            "insufficient",
            permissions=(have,) if have else (),
            message=(
                _(
                    "The agency has %(have)s access in Tag Manager, not %(want)s.",
                    have=self.label(asset_type, have),
                    want=self.label(asset_type, wanted),
                )
                if have
                else _(
                    "The agency has no access to this container in Tag Manager; it asked for "
                    "%(want)s.",
                    want=self.label(asset_type, wanted),
                )
            ),
        )

    def revoke(
        self,
        agency_token: Token,
        identity: dict[str, Any],
        asset_type: str,
        asset_id: str,
        external: dict[str, Any],
    ) -> bool:
        email = require_email(identity)
        is_account = asset_type == TAG_MANAGER_ACCOUNT.id
        account_id, container_id = (asset_id, "") if is_account else split_container(asset_id)
        if account_id not in {str(a.get("accountId")) for a in self.accounts(agency_token)}:
            return True  # the agency no longer sees the account: nothing left to remove
        try:
            mine = self.permission_of(agency_token, account_id, email)
            if mine is None:
                return True
            others = [
                c
                for c in mine.get("containerAccess") or ()
                if str(c.get("containerId")) != container_id and c.get("permission") != "noAccess"
            ]
            if is_account or not others:
                self.api.call("DELETE", f"/{mine['path']}", agency_token)
            else:
                body = _comparable(mine)
                body["containerAccess"] = others
                self.api.call("PUT", f"/{mine['path']}", agency_token, json=body)
        except PlatformError as exc:
            if exc.status != 403:
                raise
            raise PlatformError(
                _("Tag Manager only lets an account Administrator remove people."),
                _(
                    "The client removes %(email)s in Tag Manager: Admin → User Management, "
                    "then Remove.",
                    email=email,
                ),
                status=403,
                code="revoke_refused",
                detail=exc.detail,
            ) from None
        return True

    def removal_steps(self, asset_type_id: str, agency_name: str) -> list[str]:
        return [
            _("Open Tag Manager (%(url)s) as an account Administrator.", url=TAG_MANAGER_URL),
            _("Choose the account, then Admin → User Management."),
            _(
                "Select %(agency)s's e-mail address and press Remove (or untick only this "
                "container).",
                agency=agency_name,
            ),
        ]


def _access_of(permission: dict, container_id: str) -> str | None:
    if not container_id:
        return (permission.get("accountAccess") or {}).get("permission")
    for access in permission.get("containerAccess") or ():
        if str(access.get("containerId")) == container_id:
            return access.get("permission")
    return None


def _comparable(permission: dict) -> dict:
    """A permission as the API takes it back (without output-only fields)."""
    return {
        "accountId": str(permission.get("accountId") or ""),
        "emailAddress": str(permission.get("emailAddress") or "").lower(),
        "accountAccess": {
            "permission": (permission.get("accountAccess") or {}).get("permission") or USER.id
        },
        "containerAccess": [
            {"containerId": str(c.get("containerId")), "permission": c.get("permission")}
            for c in permission.get("containerAccess") or ()
        ],
    }


def _merged(
    existing: dict | None, email: str, account_id: str, container_id: str, wanted: str
) -> dict:
    """What the agency's permission becomes: what it had, raised to `wanted`, never lowered."""
    body = (
        _comparable(existing)
        if existing
        else {
            "accountId": account_id,
            "emailAddress": email,
            "accountAccess": {"permission": USER.id},
            "containerAccess": [],
        }
    )
    if not container_id:
        have = body["accountAccess"]["permission"]
        if rank(ACCOUNT_ORDER, wanted) > rank(ACCOUNT_ORDER, have):
            body["accountAccess"]["permission"] = wanted
        return body
    if rank(ACCOUNT_ORDER, body["accountAccess"]["permission"]) < rank(ACCOUNT_ORDER, USER.id):
        body["accountAccess"]["permission"] = USER.id
    for access in body["containerAccess"]:
        if access["containerId"] == container_id:
            if rank(CONTAINER_ORDER, wanted) > rank(CONTAINER_ORDER, access["permission"]):
                access["permission"] = wanted
            return body
    body["containerAccess"].append({"containerId": container_id, "permission": wanted})
    return body


__all__ = ["TAG_MANAGER_ACCOUNT", "TAG_MANAGER_CONTAINER", "TagManager", "split_container"]
