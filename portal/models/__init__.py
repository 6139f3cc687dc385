"""All models, importable from one place."""

from .accounts import ROLE_RANK, ROLES, Agency, Invitation, Membership, PasswordReset, User
from .audit import AuditEvent
from .connections import AgencyConnection, EphemeralValue
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

__all__ = [
    "GRANT_STATUSES",
    "OPEN_REQUEST_STATUSES",
    "REQUEST_STATUSES",
    "ROLES",
    "ROLE_RANK",
    "SETTLED_GRANT_STATUSES",
    "AccessRequest",
    "Agency",
    "AgencyConnection",
    "AuditEvent",
    "Client",
    "EphemeralValue",
    "Grant",
    "Invitation",
    "Membership",
    "PasswordReset",
    "SandboxRecord",
    "Template",
    "User",
]

# Last, to avoid a circular import: the sandbox's one table, known to migrations
# even when the sandbox is off.
from ..sandbox.models import SandboxRecord
