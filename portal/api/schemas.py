"""What the API accepts and answers, as pydantic models.

The request models validate input; the response models document output. The
OpenAPI document (`openapi.py`) is generated from these classes and the route
table, so the document and the code cannot drift apart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from .. import inputs
from ..events import PUBLIC_EVENTS

RequestStatus = Literal[
    "sent", "opened", "in_progress", "completed", "partially_completed", "expired", "revoked"
]
GrantStatus = Literal[
    "pending", "granted", "verifying", "verified", "failed", "declined", "needs_action", "removed"
]
EventName = Literal[
    "*",
    "access_request.opened",
    "grant.granted",
    "grant.verified",
    "grant.failed",
    "access_request.completed",
    "access_request.expired",
    "access_request.revoked",
]
assert set(EventName.__args__) == {"*", *PUBLIC_EVENTS}


def _whole(value: object) -> object:
    """JSON Schema counts 14.0 as an integer, and so does the API (14.5 is refused)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# The bounds before the conversion, so that the document shows them (minimum, maximum).
Id = Annotated[StrictInt, Field(ge=1, le=2**31 - 1), BeforeValidator(_whole)]
Days = Annotated[StrictInt, Field(ge=1, le=90), BeforeValidator(_whole)]
ShortText = Annotated[StrictStr, Field(max_length=200)]

# What the services accept, said in the document where they check it rather than
# pydantic (their refusals name the field in plainer words). The document must not
# promise more than they take: tests/test_api_schemathesis.py sends what it promises.
# A full http(s) address, no user name, spaces or control characters (what both
# `inputs.web_address` and `webhooks.ssrf.parse` take; ASCII only, so stricter).
WEB_ADDRESS_PATTERN = (
    r"^https?://[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?(?::[0-9]{1,4})?(?:[/?#][!-~]*)?$"
)


def _not_blank(schema: dict) -> None:
    """Text the service strips, then refuses when nothing is left."""
    schema["not"] = {"pattern": r"^\s*$"}


def _web_address(schema: dict) -> None:
    schema.update(format="uri", pattern=WEB_ADDRESS_PATTERN)


Name = Annotated[StrictStr, Field(min_length=1, max_length=200, json_schema_extra=_not_blank)]
WebAddress = Annotated[StrictStr, Field(max_length=2000, json_schema_extra=_web_address)]


def _check_text(value: object, multiline: bool) -> None:
    if isinstance(value, str):
        problem = inputs.text_problem(value, multiline=multiline)
        if problem:
            raise PydanticCustomError("text", problem)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_text(item, multiline)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, False)
            _check_text(item, multiline)


def _add_pattern(node: dict, pattern: str) -> None:
    if node.get("type") == "string" and not {"enum", "const", "pattern"} & node.keys():
        node["pattern"] = pattern
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in node.get(key, ()):
            _add_pattern(sub, pattern)
    if isinstance(node.get("items"), dict):
        _add_pattern(node["items"], pattern)


def _text_in_schema(schema: dict, cls: type) -> None:
    """The document says what validation accepts: which characters each string may hold."""
    multiline = getattr(cls, "multiline", frozenset())
    for name, prop in schema.get("properties", {}).items():
        pattern = inputs.MULTILINE_PATTERN if name in multiline else inputs.ONE_LINE_PATTERN
        _add_pattern(prop, pattern)


class _In(BaseModel):
    """Every input model: no control characters in any string (`inputs.text_problem`),
    line breaks only in the fields named in `multiline`."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_text_in_schema)
    multiline: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="after")
    @classmethod
    def _typed_text(cls, value: object, info: ValidationInfo) -> object:
        _check_text(value, info.field_name in cls.multiline)
        return value


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------ input


class ItemIn(_In):
    platform: Annotated[StrictStr, Field(min_length=1, max_length=32)]
    asset_type: Annotated[StrictStr, Field(min_length=1, max_length=48)]
    permissions: Annotated[
        list[Annotated[StrictStr, Field(min_length=1, max_length=64)]],
        Field(min_length=1, max_length=20),
    ]


class TemplateCreate(_In):
    multiline: ClassVar[frozenset[str]] = frozenset({"message"})

    name: Name
    message: Annotated[StrictStr, Field(max_length=5000)] | None = None
    items: Annotated[list[ItemIn], Field(min_length=1, max_length=50)]


class ClientIn(_In):
    name: Name
    email: Annotated[
        StrictStr, Field(min_length=3, max_length=254, json_schema_extra={"format": "email"})
    ]
    locale: Annotated[StrictStr, Field(min_length=2, max_length=8)] | None = None


class AccessRequestCreate(_In):
    client: ClientIn
    template_id: Id | None = None
    items: Annotated[list[ItemIn], Field(min_length=1, max_length=50)] | None = None
    expires_in_days: Days = 14
    redirect_url: (
        Annotated[
            WebAddress,
            Field(
                description="Where the client goes after the last step (https:// in production)."
            ),
        ]
        | None
    ) = None
    external_id: ShortText | None = None
    send_email: StrictBool = False


class WebhookEndpointCreate(_In):
    url: Annotated[
        WebAddress,
        Field(description="Receives the events; in production, at a public address only."),
    ]
    events: Annotated[list[EventName], Field(min_length=1, max_length=20)]
    description: Annotated[StrictStr, Field(max_length=500)] | None = None


class AccessRequestQuery(_In):
    """Query string of GET /access-requests (values arrive as text)."""

    model_config = ConfigDict(extra="ignore", strict=False)

    status: RequestStatus | None = None
    external_id: ShortText | None = None
    cursor: (
        Annotated[
            StrictStr,
            Field(
                max_length=200,
                description="The `next_cursor` of the page before, as it is.",
                json_schema_extra={"pattern": "^[A-Za-z0-9_-]*$"},  # base64url, unpadded
            ),
        ]
        | None
    ) = None
    limit: Annotated[int, Field(ge=1, le=100)] = 20


# ----------------------------------------------------------------- output


class PermissionOut(_Out):
    id: str
    label: str


class AssetTypeOut(_Out):
    id: str
    name: str
    permissions: list[PermissionOut]


class PlatformOut(_Out):
    id: str
    name: str
    asset_types: list[AssetTypeOut]


class PlatformList(_Out):
    data: list[PlatformOut]


class ItemOut(_Out):
    platform: str
    asset_type: str
    permissions: list[str]


class TemplateOut(_Out):
    id: int
    name: str
    message: str | None
    items: list[ItemOut]
    created_at: datetime


class TemplateList(_Out):
    data: list[TemplateOut]


class ClientOut(_Out):
    name: str
    email: str
    locale: str | None = Field(
        description="The language the agency chose for the client; null: the client's "
        "browser language (the link, then the e-mails and the PDF, follow it)."
    )


class GrantOut(_Out):
    id: int
    platform: str
    asset_type: str
    asset_id: str | None
    asset_name: str | None
    permissions: list[str]
    status: GrantStatus
    granted_at: datetime | None
    verified_at: datetime | None
    error: str | None
    sent_back: dict[str, str] | None = Field(
        default=None,
        description=(
            "For a guided manual step (platforms without a grant API): what the client sent "
            'back, by field name, e.g. {"account_number": "F1234ABC"}; null otherwise.'
        ),
    )


class AccessRequestOut(_Out):
    id: int
    url: str
    status: RequestStatus
    client: ClientOut
    external_id: str | None
    created_at: datetime
    expires_at: datetime
    completed_at: datetime | None
    items: list[ItemOut]
    grants: list[GrantOut]


class AccessRequestList(_Out):
    data: list[AccessRequestOut]
    next_cursor: str | None


class WebhookEndpointOut(_Out):
    id: int
    url: str
    events: list[EventName]
    description: str | None
    created_at: datetime
    disabled_at: datetime | None
    disabled_reason: str | None


class WebhookEndpointCreated(_Out):
    id: int
    url: str
    events: list[EventName]
    description: str | None
    created_at: datetime
    secret: Annotated[str, Field(pattern=r"^whsec_")]


class WebhookEndpointList(_Out):
    data: list[WebhookEndpointOut]


class FieldError(_Out):
    field: str
    message: str


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None


class WebhookEvent(_Out):
    """The body POSTed to webhook endpoints."""

    type: Literal[
        "access_request.opened",
        "grant.granted",
        "grant.verified",
        "grant.failed",
        "access_request.completed",
        "access_request.expired",
        "access_request.revoked",
    ]
    timestamp: datetime
    data: AccessRequestOut
