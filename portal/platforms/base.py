"""The interface every platform connector implements.

A connector knows one platform: what can be asked for (asset types and the
platform's own permission names, each with a plain-language label and
explanation), how to sign in (OAuth endpoints and scopes), and how to list,
check, grant, verify and revoke access over the platform's real API.

Connectors never touch the database: they take tokens and ids, call the
platform, and return plain results. The services in `portal.services` decide
what to store. Every platform error becomes a `PlatformError` whose message
and fix are written for the person who will read them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Literal

from flask import current_app


@dataclass(frozen=True)
class Permission:
    id: str  # the platform's own name, e.g. "CAMPAIGN_MANAGER"
    label: str  # short human label (translated lazily)
    explanation: str  # what the agency can then do, in plain words


@dataclass(frozen=True)
class AssetType:
    id: str  # the platform's own name, e.g. "AD_ACCOUNT"
    name: str  # human name, e.g. "Ad account"
    permissions: tuple[Permission, ...]
    description: str = ""
    # No API grants this: the client follows manual steps and the agency verifies.
    manual: bool = False

    def permission(self, permission_id: str) -> Permission | None:
        return next((p for p in self.permissions if p.id == permission_id), None)


@dataclass(frozen=True)
class OAuthEndpoints:
    authorize_url: str
    token_url: str
    scopes: tuple[str, ...]
    scope_separator: str = " "
    # How the client authenticates at the token endpoint (Authlib names).
    token_endpoint_auth_method: str = "client_secret_basic"  # noqa: S105 (a method name)
    extra_authorize_params: dict[str, str] = field(default_factory=dict)
    # PKCE (S256) on the authorization request. Off for a platform whose
    # published description defines no PKCE; such a connector also trades the
    # code itself (`exchange_code`), without a code_verifier.
    pkce: bool = True


@dataclass(frozen=True)
class Asset:
    id: str
    name: str
    type: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Problem:
    """Something found before granting that will stop or weaken the grant."""

    code: str  # e.g. "personal_account", "not_admin", "two_factor_off"
    title: str
    fix: str  # what to do, in plain words
    blocking: bool = True
    help_url: str | None = None


@dataclass(frozen=True)
class GrantResult:
    status: Literal["granted", "pending", "failed"]
    error: str | None = None
    fix: str | None = None
    # Platform-side references to keep (invite id, partner id, business id...).
    external: dict[str, Any] = field(default_factory=dict)
    retryable: bool = False


@dataclass(frozen=True)
class VerifyResult:
    status: Literal["verified", "pending", "missing", "insufficient"]
    permissions: tuple[str, ...] = ()
    message: str | None = None


@dataclass(frozen=True)
class ManualStep:
    title: str
    steps: tuple[str, ...]
    link: str | None = None  # the platform's own settings page
    verifiable: bool = True  # the agency side can check it afterwards


class PlatformError(Exception):
    """A call to the platform failed; `message` and `fix` are for people.

    `detail` keeps what the platform itself said (its error code and message,
    the HTTP status and path) for support and logs; it never holds a token.
    """

    def __init__(
        self,
        message: str,
        fix: str,
        *,
        status: int | None = None,
        code: str = "platform_error",
        retry_after: int | None = None,
        retryable: bool = False,
        detail: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.status = status
        self.code = code
        self.retry_after = retry_after
        self.retryable = retryable
        self.detail = detail


Token = dict[str, Any]  # an OAuth token as Authlib returns it (access_token, expires_at, ...)


class Connector(ABC):
    """One platform. Subclasses set `id`, `name`, `asset_types` and implement the calls."""

    id: str
    name: str
    asset_types: tuple[AssetType, ...]
    # The platform's real URLs by name: at least "api", "authorize" and "token".
    real_urls: dict[str, str]
    # Grants go to the agency's business (True) or to a named person (False).
    grants_to_business: bool = True
    # The agency must connect its own account before requests can be sent.
    needs_agency_connection: bool = True
    # No refresh tokens (Meta): `refresh_token` exchanges a still-valid access
    # token for a new one, so it is done days before the token expires.
    exchanges_live_token: bool = False
    # Its manual steps name who receives access (read from the agency's connection).
    manual_steps_name_the_agency: bool = False

    # -- description ---------------------------------------------------------
    def asset_type(self, asset_type_id: str) -> AssetType | None:
        return next((t for t in self.asset_types if t.id == asset_type_id), None)

    @abstractmethod
    def oauth_endpoints(self) -> OAuthEndpoints:
        """Where to sign in; sandbox URLs when LATCHKEY_SANDBOX is on."""

    def api_base(self) -> str:
        """The API base URL: the real one, or the sandbox's."""
        return self.endpoints()["api"]

    def endpoints(self) -> dict[str, str]:
        return current_app.extensions["latchkey_platform_urls"][self.id]

    # -- agency side ---------------------------------------------------------
    @abstractmethod
    def agency_identity(self, agency_token: Token) -> dict[str, Any]:
        """Who the agency is on the platform (e.g. {"business_id", "name"})."""

    # -- client side ---------------------------------------------------------
    @abstractmethod
    def preflight(self, client_token: Token) -> list[Problem]:
        """Problems to fix before granting, each with its fix."""

    @abstractmethod
    def list_assets(self, client_token: Token, asset_type_ids: list[str]) -> dict[str, list[Asset]]:
        """The client's assets of each requested type."""

    @abstractmethod
    def grant(
        self,
        client_token: Token,
        agency_token: Token | None,
        agency_identity: dict[str, Any],
        asset: Asset,
        permissions: list[str],
    ) -> GrantResult:
        """Give the agency `permissions` on `asset`."""

    @abstractmethod
    def verify(
        self,
        agency_token: Token,
        agency_identity: dict[str, Any],
        asset_type: str,
        asset_id: str,
        permissions: list[str],
        external: dict[str, Any],
    ) -> VerifyResult:
        """From the agency's side: does it now see the asset with those permissions?"""

    def revoke(
        self,
        agency_token: Token,
        agency_identity: dict[str, Any],
        asset_type: str,
        asset_id: str,
        external: dict[str, Any],
    ) -> bool:
        """Remove the agency's access where the platform allows it."""
        raise PlatformError(
            f"{self.name} does not let Latchkey remove access automatically.",
            f"Remove the agency in {self.name}'s own settings.",
            code="revoke_unsupported",
        )

    def manual_steps(
        self,
        asset_type_id: str,
        permissions: list[str],
        agency_identity: dict[str, Any] | None = None,
    ) -> list[ManualStep]:
        """Steps for the client where no API can do the work.

        `agency_identity` (the agency's connection identity, merged over its
        receiving-identity settings) lets the steps name who to add.
        """
        return []

    def refresh_token(self, token: Token) -> Token:
        """Exchange a refresh token for a new access token (see portal.oauth)."""
        from ..oauth import refresh

        return refresh(self, token)
