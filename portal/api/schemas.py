"""What the API accepts and answers, as pydantic models.

The request models validate input; the response models document output. The
OpenAPI document (`openapi.py`) is generated from these classes and the route
table, so the document and the code cannot drift apart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

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

Id = Annotated[StrictInt, Field(ge=1, le=2**31 - 1)]
ShortText = Annotated[StrictStr, Field(max_length=200)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


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
    name: Annotated[StrictStr, Field(min_length=1, max_length=200)]
    message: Annotated[StrictStr, Field(max_length=5000)] | None = None
    items: Annotated[list[ItemIn], Field(min_length=1, max_length=50)]


class ClientIn(_In):
    name: Annotated[StrictStr, Field(min_length=1, max_length=200)]
    email: Annotated[StrictStr, Field(min_length=3, max_length=254)]
    locale: Annotated[StrictStr, Field(min_length=2, max_length=8)] | None = None


class AccessRequestCreate(_In):
    client: ClientIn
    template_id: Id | None = None
    items: Annotated[list[ItemIn], Field(min_length=1, max_length=50)] | None = None
    expires_in_days: Annotated[StrictInt, Field(ge=1, le=90)] = 14
    redirect_url: Annotated[StrictStr, Field(max_length=2000)] | None = None
    external_id: ShortText | None = None
    send_email: StrictBool = False


class WebhookEndpointCreate(_In):
    url: Annotated[StrictStr, Field(min_length=1, max_length=2000)]
    events: Annotated[list[EventName], Field(min_length=1, max_length=20)]
    description: Annotated[StrictStr, Field(max_length=500)] | None = None


class AccessRequestQuery(_In):
    """Query string of GET /access-requests (values arrive as text)."""

    model_config = ConfigDict(extra="ignore", strict=False)

    status: RequestStatus | None = None
    external_id: ShortText | None = None
    cursor: Annotated[StrictStr, Field(max_length=200)] | None = None
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
    locale: str


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
