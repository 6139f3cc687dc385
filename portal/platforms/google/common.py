"""What the Google products share: the product interface, who the agency is,
role ranks and how a refusal becomes a failed grant."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask_babel import gettext as _

from ..base import (
    Asset,
    AssetType,
    GrantResult,
    ManualStep,
    PlatformError,
    Problem,
    Token,
    VerifyResult,
)
from .api import GoogleApi

if TYPE_CHECKING:
    from . import GoogleConnector


@dataclass
class Survey:
    """What preflight learnt about one product of the client's Google account."""

    found: bool = False  # the account has something in this product
    problems: list[Problem] = field(default_factory=list)


class Product(ABC):
    """One Google product: its asset types and the calls for them.

    A product raises `PlatformError` (with words for people) when something
    fails; the connector turns that into a failed grant.
    """

    key: str  # "ads", "analytics", ...
    name: str  # the product as people know it (a brand name, not translated)
    url_name: str  # its API base in GoogleConnector.real_urls
    scopes: tuple[str, ...] = ()
    asset_types: tuple[AssetType, ...] = ()

    def __init__(self, connector: GoogleConnector):
        self.connector = connector
        self.api = GoogleApi(connector, self.name, self.url_name)

    def owns(self, asset_type_id: str) -> bool:
        return any(t.id == asset_type_id for t in self.asset_types)

    # -- client side ----------------------------------------------------------
    def survey(self, token: Token) -> Survey:
        return Survey()

    def list_assets(self, token: Token, asset_type_id: str, memo: dict[str, Any]) -> list[Asset]:
        return []

    @abstractmethod
    def grant(
        self,
        client_token: Token,
        agency_token: Token | None,
        identity: dict[str, Any],
        asset: Asset,
        permissions: list[str],
    ) -> GrantResult:
        """Give the agency `permissions` on `asset` (with the client's token)."""

    # -- agency side ----------------------------------------------------------
    @abstractmethod
    def verify(
        self,
        agency_token: Token,
        identity: dict[str, Any],
        asset_type: str,
        asset_id: str,
        permissions: list[str],
        external: dict[str, Any],
    ) -> VerifyResult:
        """From the agency's side: does it see the asset with those permissions?"""

    @abstractmethod
    def revoke(
        self,
        agency_token: Token,
        identity: dict[str, Any],
        asset_type: str,
        asset_id: str,
        external: dict[str, Any],
    ) -> bool:
        """Remove the agency's access where the product allows it."""

    def manual_steps(
        self, asset_type_id: str, permissions: list[str], identity: dict[str, Any] | None
    ) -> list[ManualStep]:
        return []

    def removal_steps(self, asset_type_id: str, agency_name: str) -> list[str]:
        return []

    # -- helpers --------------------------------------------------------------
    def label(self, asset_type_id: str, permission_id: str) -> str:
        found = next((t for t in self.asset_types if t.id == asset_type_id), None)
        permission = found.permission(permission_id) if found else None
        return str(permission.label) if permission else permission_id

    def labels(self, asset_type_id: str, permission_ids: Iterable[str]) -> str:
        return ", ".join(self.label(asset_type_id, p) for p in permission_ids)


# ------------------------------------------------------------- the agency


def agency_email(identity: dict[str, Any] | None) -> str:
    """The Google account that receives access (GA4, Tag Manager, Merchant
    Center, Business Profile, Search Console); "" when unknown."""
    identity = identity or {}
    nested = identity.get("google")
    if isinstance(nested, dict) and nested.get("email"):
        return str(nested["email"]).strip().lower()
    return str(identity.get("email") or "").strip().lower()


def manager_id(identity: dict[str, Any] | None) -> str:
    """The agency's Google Ads manager account id, digits only; "" when unknown."""
    identity = identity or {}
    nested = identity.get("google_ads")
    value = nested.get("manager_id") if isinstance(nested, dict) else None
    value = value or identity.get("manager_id") or ""
    return "".join(ch for ch in str(value) if ch.isdigit())


def require_email(identity: dict[str, Any] | None) -> str:
    """The receiving e-mail; it must be the Google account the agency connected,
    since that account's token is what verifies the access afterwards."""
    email = agency_email(identity)
    connected = str((identity or {}).get("email") or "").strip().lower()
    if email and connected and email != connected:
        raise PlatformError(
            _(
                "The agency's receiving e-mail for Google (%(chosen)s) is not the Google "
                "account it connected to Latchkey (%(connected)s).",
                chosen=email,
                connected=connected,
            ),
            _(
                "Let the agency know: in Connections, it either connects Google with "
                "%(chosen)s or sets the receiving e-mail to %(connected)s. Then press Retry.",
                chosen=email,
                connected=connected,
            ),
            code="identity_mismatch",
        )
    if not email:
        raise PlatformError(
            _("The agency has not connected the Google account that receives access."),
            _(
                "Let the agency know: it connects Google in Latchkey (Connections) with "
                "the account that should receive access. Then press Retry."
            ),
            code="agency_not_connected",
        )
    return email


def agency_not_connected(product: str) -> GrantResult:
    return GrantResult(
        "failed",
        error=_("The agency has not connected its Google account to Latchkey yet."),
        fix=_(
            "Let the agency know; once it connects Google, open this link again and "
            "share %(product)s.",
            product=product,
        ),
        external={"error_code": "agency_not_connected"},
    )


# ------------------------------------------------------------------ roles


def rank(order: Sequence[str], role: str | None) -> int:
    """A role's place in `order` (weakest first); -1 when unknown."""
    try:
        return order.index(str(role))
    except ValueError:
        return -1


def strongest(order: Sequence[str], roles: Iterable[str]) -> str | None:
    """The strongest known role among `roles`."""
    known = [r for r in roles if r in order]
    return max(known, key=order.index) if known else None


def covers(order: Sequence[str], have: str | None, want: Iterable[str]) -> bool:
    """`have` is at least as strong as every role wanted."""
    return all(rank(order, have) >= rank(order, w) >= 0 for w in want)


# ----------------------------------------------------------------- results


def failed(exc: PlatformError, external: dict[str, Any]) -> GrantResult:
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


def invalid_permissions(asset_type: AssetType) -> GrantResult:
    return GrantResult(
        "failed",
        error=_("The access asked for does not exist on a %(type)s.", type=asset_type.name),
        fix=_("Ask the agency to send a corrected request."),
        external={"error_code": "invalid_permission"},
    )


def refusal(exc: PlatformError, message: str, fix: str, code: str = "not_admin") -> PlatformError:
    """A refusal explained in the product's terms, keeping what Google said."""
    return PlatformError(message, fix, status=exc.status, code=code, detail=exc.detail)


def id_from(resource_name: str | None) -> str:
    """The last segment of a resource name: "properties/123" -> "123"."""
    return str(resource_name or "").rstrip("/").rsplit("/", 1)[-1]


__all__ = [
    "Product",
    "Survey",
    "agency_email",
    "agency_not_connected",
    "covers",
    "failed",
    "id_from",
    "invalid_permissions",
    "manager_id",
    "rank",
    "refusal",
    "require_email",
    "strongest",
]
