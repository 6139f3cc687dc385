"""All models, importable from one place.

The sandbox's table (`portal.sandbox.models`) is not among them: it is declared
only when create_app loads the sandbox (LATCHKEY_SANDBOX=1).
"""

from .accounts import (
    ROLE_RANK,
    ROLES,
    Agency,
    EmailVerification,
    Invitation,
    Membership,
    PasswordReset,
    User,
    UserSession,
)
from .api import API_SCOPES, ApiKey, IdempotencyKey, WebhookDelivery, WebhookEndpoint
from .audit import AuditChainHead, AuditCheckpoint, AuditEvent
from .connections import AgencyConnection, EphemeralValue
from .notifications import NotificationLog
from .requests import (
    GRANT_STATUSES,
    OPEN_REQUEST_STATUSES,
    REQUEST_STATUSES,
    SETTLED_GRANT_STATUSES,
    AccessRequest,
    Client,
    Grant,
    Template,
)
from .tools import CustomTool

__all__ = [
    "API_SCOPES",
    "GRANT_STATUSES",
    "OPEN_REQUEST_STATUSES",
    "REQUEST_STATUSES",
    "ROLES",
    "ROLE_RANK",
    "SETTLED_GRANT_STATUSES",
    "AccessRequest",
    "Agency",
    "AgencyConnection",
    "ApiKey",
    "AuditChainHead",
    "AuditCheckpoint",
    "AuditEvent",
    "Client",
    "CustomTool",
    "EmailVerification",
    "EphemeralValue",
    "Grant",
    "IdempotencyKey",
    "Invitation",
    "Membership",
    "NotificationLog",
    "PasswordReset",
    "Template",
    "User",
    "UserSession",
    "WebhookDelivery",
    "WebhookEndpoint",
]
