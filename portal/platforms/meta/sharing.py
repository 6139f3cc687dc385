"""Sharing an asset with the agency's business portfolio, checking it from the
agency's side, and ending it.

- Grant (client's token): `POST /{asset}/agencies` with `business` and
  `permitted_tasks`; a Page with the Page's own token.
- Verify (agency's token): the asset under `GET /{agency business}/client_*`,
  with `permitted_tasks` where Meta adds it (ad accounts, Pages, pixels);
  access still awaiting the client's approval under `pending_client_*`.
- Revoke (agency's token): `DELETE /{asset}/agencies?business=...`.
"""

from __future__ import annotations

import json
from typing import Any

from flask_babel import gettext as _

from .. import http
from ..base import Asset, GrantResult, PlatformError, Token, VerifyResult
from .terms import (
    BUSINESS_SETTINGS,
    BUSINESS_UNKNOWN_SUBCODE,
    CLIENT_EDGES,
    CLIENT_FIELDS,
    NO_ACCESS_SUBCODE,
    NOT_ADMIN_SUBCODE,
    PAGE_TOKEN_REQUIRED,
    PENDING_EDGES,
    SAME_BUSINESS_SUBCODE,
    TWO_FACTOR_SUBCODE,
    graph_node_id,
    with_implied,
)


class Sharing:
    """Grant, verify and revoke (mixed into `MetaConnector`)."""

    def grant(
        self,
        client_token: Token,
        agency_token: Token | None,
        agency_identity: dict[str, Any],
        asset: Asset,
        permissions: list[str],
    ) -> GrantResult:
        asset_type = self.asset_type(asset.type)
        if asset_type is None:
            return GrantResult(
                "failed",
                error=_("Meta has no asset of this kind."),
                fix=_("Ask the agency to send a corrected request."),
                external={"error_code": "invalid_asset_type"},
            )
        unknown = [p for p in permissions if asset_type.permission(p) is None]
        if unknown or not permissions:
            return GrantResult(
                "failed",
                error=_(
                    "The access asked for does not exist on a Meta %(type)s.",
                    type=asset_type.name,
                ),
                fix=_("Ask the agency to send a corrected request."),
                external={"error_code": "invalid_permission", "permissions": unknown},
            )
        agency_business = str(agency_identity.get("business_id") or "")
        if not agency_business:
            return GrantResult(
                "failed",
                error=_("The agency has not connected its Meta business portfolio to Latchkey."),
                fix=_("Let the agency know; once it connects Meta, open this link again."),
                external={"error_code": "agency_not_connected"},
            )
        client_business = str(asset.details.get("business_id") or "")
        node_id = graph_node_id(asset.type, asset.id)
        tasks = with_implied(asset.type, list(permissions))
        external: dict[str, Any] = {
            "agency_business_id": agency_business,
            "client_business_id": client_business or None,
            "node_id": node_id,
            "permitted_tasks": tasks,
            "method": "agencies",
        }
        if client_business and client_business == agency_business:
            return GrantResult(
                "failed",
                error=_("You signed in with the agency's own Meta business portfolio."),
                fix=_("Sign in to Facebook with your own account and try again."),
                external={**external, "error_code": "same_business"},
            )
        try:
            token: Token | str = client_token
            if asset.type == "PAGE":
                token = self._page_token(client_token, node_id)
            body = self._call(
                "POST",
                f"/{node_id}/agencies",
                token,
                data={"business": agency_business, "permitted_tasks": json.dumps(tasks)},
            )
            if not (isinstance(body, dict) and body.get("success") is True):
                raise PlatformError(
                    _("Meta did not confirm that this asset was shared."),
                    _("Press Retry. If it keeps failing, tell the agency."),
                    code="share_refused",
                    retryable=True,
                    detail=f"unexpected answer to POST /{node_id}/agencies",
                )
        except http.PlatformHTTPError as exc:
            failure = self._sharing_refusal(exc)
            return self._failed(failure, external)
        except PlatformError as exc:
            return self._failed(exc, external)
        # A pixel shared with a business that has no sharing agreement with the
        # client yet: Meta answers the request's id, and shares the pixel once
        # the agency's portfolio accepts it.
        pending = body.get("pending_request_id") if asset.type == "PIXEL" else None
        if pending:
            return GrantResult("pending", external={**external, "pending_request_id": str(pending)})
        return GrantResult("granted", external=external)

    @staticmethod
    def _failed(exc: PlatformError, external: dict[str, Any]) -> GrantResult:
        return GrantResult(
            "failed",
            error=exc.message,
            fix=exc.fix,
            retryable=exc.retryable,
            external={
                **external,
                "error_code": exc.code,
                "retry_after": exc.retry_after,
                "detail": exc.detail,
            },
        )

    def _page_token(self, client_token: Token, page_id: str) -> str:
        """A Page is shared with the Page's own token, which its managers can get."""
        node = self._call("GET", f"/{page_id}", client_token, params={"fields": "access_token"})
        page_token = node.get("access_token") if isinstance(node, dict) else None
        if not page_token:
            raise PlatformError(
                _("Meta did not let Latchkey act for this Page."),
                _(
                    "Press Connect Meta again and, when Facebook asks which Pages Latchkey may "
                    "use, tick this Page. You need full control of the Page."
                ),
                code="page_token_missing",
            )
        return str(page_token)

    def _sharing_refusal(self, exc: http.PlatformHTTPError) -> PlatformError:
        """Explain Meta's refusals of a share in the client's terms."""
        error = self._meta_error(exc)
        subcode = error.get("error_subcode")
        said = (exc.platform_message or "").lower()
        if subcode == TWO_FACTOR_SUBCODE or "two-factor" in said:
            problem = self._two_factor_problem(_("Your business portfolio"))
            return PlatformError(
                problem.title,
                problem.fix,
                status=exc.status,
                code="two_factor_off",
                detail=exc.detail,
            )
        if subcode == NOT_ADMIN_SUBCODE or (exc.status == 403 and "admin" in said):
            return PlatformError(
                _("Only an admin of your Meta business portfolio can share its assets."),
                _(
                    "Ask an admin of the portfolio to open this link and finish this step, or "
                    "to make you an admin in Business settings → People (%(url)s). Then press "
                    "Retry.",
                    url=BUSINESS_SETTINGS,
                ),
                status=exc.status,
                code="not_admin",
                detail=exc.detail,
            )
        if subcode == SAME_BUSINESS_SUBCODE or "its own partner" in said:
            return PlatformError(
                _("You signed in with the agency's own Meta business portfolio."),
                _("Sign in to Facebook with your own account and try again."),
                status=exc.status,
                code="same_business",
                detail=exc.detail,
            )
        if subcode == BUSINESS_UNKNOWN_SUBCODE or ("business" in said and "does not exist" in said):
            return PlatformError(
                _("Meta does not know the agency's business portfolio."),
                _("Let the agency know: its Meta connection in Latchkey needs to be renewed."),
                status=exc.status,
                code="agency_business_unknown",
                detail=exc.detail,
            )
        if error.get("code") == PAGE_TOKEN_REQUIRED:
            return PlatformError(
                _("Meta did not let Latchkey act for this Page."),
                _(
                    "Press Connect Meta again and, when Facebook asks which Pages Latchkey may "
                    "use, tick this Page."
                ),
                status=exc.status,
                code="page_token_missing",
                detail=exc.detail,
            )
        return exc

    # ----------------------------------------------------------- verify

    def verify(
        self,
        agency_token: Token,
        agency_identity: dict[str, Any],
        asset_type: str,
        asset_id: str,
        permissions: list[str],
        external: dict[str, Any],
    ) -> VerifyResult:
        agency_business = str(
            agency_identity.get("business_id") or (external or {}).get("agency_business_id") or ""
        )
        edge = CLIENT_EDGES.get(asset_type)
        if not agency_business or edge is None:
            return VerifyResult(
                "missing",
                message=_("Latchkey does not know which Meta business portfolio should see this."),
            )
        wanted = graph_node_id(asset_type, asset_id)
        fields = CLIENT_FIELDS[asset_type]
        seen = next(
            (
                node
                for node in self._paged(
                    f"/{agency_business}/{edge}", agency_token, {"fields": fields}
                )
                if self._is_asset(node, asset_type, wanted)
            ),
            None,
        )
        type_name = self._type_name(asset_type)
        if seen is None:
            if (external or {}).get("pending_request_id"):
                return VerifyResult(
                    "pending",
                    message=_(
                        "Meta is waiting for the agency's business portfolio to accept the "
                        "request to share this %(type)s (Meta Business settings → Requests).",
                        type=type_name,
                    ),
                )
            if self._awaiting_approval(agency_token, agency_business, asset_type, wanted):
                return VerifyResult(
                    "pending",
                    message=_(
                        "Meta shows this %(type)s as waiting for approval: an admin of the "
                        "client's business portfolio must approve the agency in Business "
                        "settings → Partners.",
                        type=type_name,
                    ),
                )
            return VerifyResult(
                "missing",
                message=_(
                    "The agency's business portfolio does not see this %(type)s on Meta.",
                    type=type_name,
                ),
            )
        if "permitted_tasks" not in fields.split(",") or "permitted_tasks" not in seen:
            # Meta lists catalogs and Instagram accounts without the tasks given
            # (and may leave them out): being listed is the access.
            return VerifyResult("verified", permissions=())
        have = tuple(sorted(str(t) for t in seen.get("permitted_tasks") or []))
        covered = set(with_implied(asset_type, list(have)))
        lacking = [p for p in permissions if p not in covered]
        if not lacking:
            return VerifyResult("verified", permissions=have)
        labels = ", ".join(self._label(asset_type, p) for p in lacking)
        return VerifyResult(
            "insufficient",
            permissions=have,
            message=_("The agency sees this asset but is missing: %(missing)s.", missing=labels),
        )

    @staticmethod
    def _is_asset(node: Any, asset_type: str, wanted: str) -> bool:
        if not isinstance(node, dict):
            return False
        if str(node.get("id")) == wanted:
            return True
        # Ad accounts are act_<account id>; their account_id is the number alone.
        return asset_type == "AD_ACCOUNT" and f"act_{node.get('account_id')}" == wanted

    def _awaiting_approval(
        self, agency_token: Token, agency_business: str, asset_type: str, wanted: str
    ) -> bool:
        """Is the agency's access to the asset a request the client has yet to approve?"""
        if asset_type not in PENDING_EDGES:
            return False
        edge, key, fields = PENDING_EDGES[asset_type]
        requests = self._paged(f"/{agency_business}/{edge}", agency_token, {"fields": fields})
        return any(
            self._is_asset(request.get(key), asset_type, wanted)
            for request in requests
            if isinstance(request, dict)
        )

    def _type_name(self, asset_type: str) -> str:
        found = self.asset_type(asset_type)
        return str(found.name) if found else asset_type

    def _label(self, asset_type: str, permission_id: str) -> str:
        found = self.asset_type(asset_type)
        permission = found.permission(permission_id) if found else None
        return str(permission.label) if permission else permission_id

    # ----------------------------------------------------------- revoke

    def revoke(
        self,
        agency_token: Token,
        agency_identity: dict[str, Any],
        asset_type: str,
        asset_id: str,
        external: dict[str, Any],
    ) -> bool:
        """End the agency business's access to the client's asset, from the agency's side."""
        agency_business = str(
            (external or {}).get("agency_business_id") or agency_identity.get("business_id") or ""
        )
        if not agency_business or asset_type not in CLIENT_EDGES:
            raise PlatformError(
                _("Latchkey does not know which Meta business portfolio holds this access."),
                _(
                    "Remove the partner in Meta Business settings → Partners (%(url)s).",
                    url=BUSINESS_SETTINGS,
                ),
                code="revoke_unsupported",
            )
        node_id = graph_node_id(asset_type, asset_id)
        try:
            body = self._call(
                "DELETE",
                f"/{node_id}/agencies",
                agency_token,
                params={"business": agency_business},
            )
        except http.PlatformHTTPError as exc:
            error = self._meta_error(exc)
            said = (exc.platform_message or "").lower()
            # Already gone: removal is done either way (jobs may run twice).
            if error.get("error_subcode") == NO_ACCESS_SUBCODE:
                return True
            if "has no access" in said:
                return True
            if exc.code in ("rate_limited", "platform_unavailable", "token_expired"):
                raise
            raise PlatformError(
                _("Meta did not remove the agency's access."),
                _(
                    "Remove the partner's access in Meta Business settings → Partners "
                    "(%(url)s), or ask an admin of the agency's portfolio to connect Meta "
                    "again and retry.",
                    url=BUSINESS_SETTINGS,
                ),
                status=exc.status,
                code="revoke_refused",
                detail=exc.detail,
            ) from None
        if not (isinstance(body, dict) and body.get("success") is True):
            raise PlatformError(
                _("Meta did not confirm that the agency's access was removed."),
                _("Try again in a minute, or remove it in Meta Business settings → Partners."),
                code="revoke_refused",
                retryable=True,
            )
        return True
