"""Guided manual platforms: no grant API, no OAuth, exact steps instead.

A guided connector describes, per asset type, the steps the client follows in
the platform's own settings (with the agency's receiving identity filled in),
what the client sends back (an account number, a code...) and how that is
checked, what happens next, and what the agency then does on its side.

The grant that results stays `needs_action` while a person has something to
do: `external["waiting_on"]` says who ("agency" once the client has sent what
was asked). No platform call can confirm the access, so the agency confirms it
by hand (the request page's "Mark the step done"); only then is it verified.
The format of what the client sends is checked at once, honestly: a Shopify
collaborator code has 4 digits, a Snapchat ad account id is a UUID, and so on.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import gettext as _

from ..base import (
    Asset,
    Connector,
    GrantResult,
    ManualStep,
    OAuthEndpoints,
    PlatformError,
    Problem,
    Token,
    VerifyResult,
)

if TYPE_CHECKING:
    from ...models import Agency, Grant

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
CODE_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
DIGITS_RE = re.compile(r"^\d{1,30}$")
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
MAX_REPLY = 300


@dataclass(frozen=True)
class ReplyField:
    """One thing the client sends back, with its format check."""

    name: str  # machine key, stored in grant.external["sent_back"]
    label: Any  # lazy string
    hint: Any = ""
    # "text", "code", "number", "email", "url", "uuid" or "pattern"
    kind: str = "text"
    pattern: str | None = None
    normalise: Callable[[str], str] | None = None
    required: bool = True
    # Its value names the asset (one grant per value: several can be shared).
    identifies_asset: bool = False
    example: str = ""
    invalid: Any = None  # message when the format is wrong (lazy string)
    max_length: int = 200

    def clean(self, raw: str) -> tuple[str | None, str | None]:
        """(value, None) when the format is right, else (None, what to fix)."""
        value = CONTROL_RE.sub(" ", raw).strip()
        if self.normalise is not None:
            value = self.normalise(value)
        wrong = str(self.invalid) if self.invalid else None
        if len(value) > self.max_length:
            return None, wrong or _("Use at most %(n)d characters.", n=self.max_length)
        if self.kind == "text":
            return " ".join(value.split()), None
        if self.kind == "code":
            value = value.replace(" ", "")
            if not CODE_RE.match(value):
                return None, wrong or _("Use letters, digits, dots and dashes only.")
            return value, None
        if self.kind == "number":
            value = re.sub(r"[\s-]", "", value)
            if not DIGITS_RE.match(value):
                return None, wrong or _("Use digits only.")
            return value, None
        if self.kind == "email":
            from email_validator import EmailNotValidError, validate_email

            try:
                return validate_email(
                    value,
                    check_deliverability=False,
                    test_environment=current_app.config["LATCHKEY_ENV"] != "production",
                ).normalized, None
            except EmailNotValidError:
                return None, wrong or _("Enter a valid e-mail address, like name@example.com.")
        if self.kind == "url":
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc or " " in value:
                return None, wrong or _("Enter a full web address starting with https://.")
            return value, None
        if self.kind == "uuid":
            value = value.lower()
            if not UUID_RE.match(value):
                return None, wrong or _("This does not look right: check the format.")
            return value, None
        if self.kind == "pattern" and self.pattern:
            if not re.match(self.pattern, value):
                return None, wrong or _("This does not look right: check the format.")
            return value, None
        return value, None


@dataclass
class Guide:
    """What one requested item asks of the client, in the current language."""

    title: str
    steps: list[str]
    fields: tuple[ReplyField, ...]
    next_steps: list[str]  # what happens after sending (what the client will see)
    agency_steps: list[str]  # what the agency does next, with what was sent filled in
    link: str | None = None
    link_label: str = ""
    intro: str = ""
    several: bool = False  # the client may share more than one (one grant each)


@dataclass(frozen=True)
class GuideContext:
    agency_name: str
    client_name: str
    identity: Mapping[str, str] = field(default_factory=dict)
    sent_back: Mapping[str, str] = field(default_factory=dict)


def check_reply(
    fields: tuple[ReplyField, ...], form: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """Clean what the client typed: (values, errors by field name)."""
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    for reply_field in fields:
        raw = str(form.get(reply_field.name) or "")[: MAX_REPLY * 4]
        if not raw.strip():
            if reply_field.required:
                errors[reply_field.name] = _("Fill in “%(what)s”.", what=reply_field.label)
            continue
        value, error = reply_field.clean(raw)
        if error:
            errors[reply_field.name] = error
        elif value:
            values[reply_field.name] = value
    return values, errors


class GuidedConnector(Connector):
    """A platform the client handles by following steps; Latchkey never calls it."""

    uses_oauth = False
    needs_agency_connection = False
    real_urls: dict[str, str] = {}  # no API: nothing to point at the sandbox
    # (key, label) of the receiving identity the steps need, in Agency.identities[id].
    identity_fields: tuple[tuple[str, Any], ...] = ()
    # The steps are the agency's own words (its "other tools"), not Latchkey's.
    agency_defined: bool = False

    # -- what the client does ------------------------------------------------
    def reply_fields(self, asset_type_id: str) -> tuple[ReplyField, ...]:
        return ()

    @abstractmethod
    def guide(self, asset_type_id: str, permissions: list[str], context: GuideContext) -> Guide:
        """The client's steps for one item, with the agency's details filled in."""

    def permission_labels(self, asset_type_id: str, permissions: list[str]) -> str:
        asset_type = self.asset_type(asset_type_id)
        labels = []
        for permission_id in permissions:
            permission = asset_type.permission(permission_id) if asset_type else None
            labels.append(str(permission.label) if permission else permission_id)
        return ", ".join(labels)

    # -- the agency's receiving identity -------------------------------------
    def identity_of(self, agency: Agency) -> dict[str, str]:
        return dict((agency.identities or {}).get(self.id) or {})

    def missing_identity(self, agency: Agency | None) -> list[str]:
        """Labels of the settings the steps need and the agency has not filled in."""
        if agency is None:
            return []
        identity = self.identity_of(agency)
        return [str(label) for key, label in self.identity_fields if not identity.get(key)]

    # -- the Connector interface: there is no API to call --------------------
    def oauth_endpoints(self) -> OAuthEndpoints:
        raise PlatformError(
            _(
                "%(platform)s has no sign-in through Latchkey: people follow guided steps in "
                "its own settings instead.",
                platform=self.name,
            ),
            _(
                "Clients follow the steps on their link. The agency only fills in its receiving "
                "identity in Connections."
            ),
            code="no_oauth",
        )

    def agency_identity(self, agency_token: Token) -> dict[str, Any]:
        raise PlatformError(
            _("%(platform)s has no connection to make.", platform=self.name),
            _(
                "Fill in your receiving identity for %(platform)s in Connections.",
                platform=self.name,
            ),
            code="no_oauth",
        )

    def preflight(self, client_token: Token) -> list[Problem]:
        return []

    def list_assets(self, client_token: Token, asset_type_ids: list[str]) -> dict[str, list[Asset]]:
        # The client names the asset in what it sends back; there is nothing to list.
        return {type_id: [] for type_id in asset_type_ids}

    def grant(
        self,
        client_token: Token,
        agency_token: Token | None,
        agency_identity: dict[str, Any],
        asset: Asset,
        permissions: list[str],
    ) -> GrantResult:
        return GrantResult(
            "failed",
            _("%(platform)s has no way for Latchkey to give access.", platform=self.name),
            _("Follow the steps on the page, then send what is asked."),
        )

    def verify(
        self,
        agency_token: Token,
        agency_identity: dict[str, Any],
        asset_type: str,
        asset_id: str,
        permissions: list[str],
        external: dict[str, Any],
    ) -> VerifyResult:
        """No API sees the access: it is verified once the agency has confirmed it."""
        external = external or {}
        if external.get("confirmed_at"):
            return VerifyResult("verified", permissions=tuple(permissions))
        if external.get("waiting_on") == "agency":
            return VerifyResult(
                "pending",
                message=_(
                    "The client has done its part. The agency must check in %(platform)s that "
                    "it has the access, then mark the step done.",
                    platform=self.name,
                ),
            )
        return VerifyResult(
            "pending",
            message=_(
                "Waiting for the client to follow the steps in %(platform)s.", platform=self.name
            ),
        )

    def manual_steps(
        self,
        asset_type_id: str,
        permissions: list[str],
        agency_identity: dict[str, Any] | None = None,
    ) -> list[ManualStep]:
        # The steps need the agency's identity: they come from `guide()` and are
        # shown on the platform's own step, not on "Finishing touches".
        return []


def is_guided(connector: Connector | str | None) -> bool:
    """A platform the client handles by following steps (no sign-in, no API)."""
    if isinstance(connector, str):
        from .. import get

        try:
            connector = get(connector)
        except KeyError:
            return False
    return connector is not None and getattr(connector, "uses_oauth", True) is False


# ------------------------------------------------------------ stored grants


@dataclass
class GuidedGrant:
    """A guided grant as people read it: who acts next and what was sent back."""

    waiting_on: str | None  # "client", "agency" or None once settled
    sent_back: list[tuple[str, str]]  # (label, value)
    replied_at: str | None
    confirmed_at: str | None
    confirmed_by: str | None


def sent_back_rows(grant: Grant) -> list[tuple[str, str]]:
    """What the client sent back for `grant`, labelled, in the platform's field order."""
    values = dict((grant.external or {}).get("sent_back") or {})
    if not values:
        return []
    from .. import get

    try:
        connector = get(grant.platform)
    except KeyError:
        connector = None
    fields = connector.reply_fields(grant.asset_type) if is_guided(connector) else ()
    rows = []
    for reply_field in fields:
        if reply_field.name in values:
            rows.append((str(reply_field.label), str(values.pop(reply_field.name))))
    # Fields the platform no longer asks for (an edited tool) keep their raw name.
    rows.extend((str(name), str(value)) for name, value in values.items())
    return rows


def guided_grant(grant: Grant) -> GuidedGrant | None:
    """The guided view of `grant`, or None for a grant made through an API."""
    external = grant.external or {}
    if not grant.manual or not (external.get("guided") or is_guided(grant.platform)):
        return None
    waiting = external.get("waiting_on")
    if grant.status != "needs_action":
        waiting = None
    elif waiting is None:
        waiting = "client"
    return GuidedGrant(
        waiting_on=waiting,
        sent_back=sent_back_rows(grant),
        replied_at=external.get("replied_at"),
        confirmed_at=external.get("confirmed_at"),
        confirmed_by=external.get("confirmed_by"),
    )


__all__ = [
    "Guide",
    "GuideContext",
    "GuidedConnector",
    "GuidedGrant",
    "ReplyField",
    "check_reply",
    "guided_grant",
    "is_guided",
    "sent_back_rows",
]
