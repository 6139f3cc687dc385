"""Model rows to the JSON shapes of the contract (shared by the API and webhooks)."""

from __future__ import annotations

from datetime import UTC, datetime

from .. import platforms
from ..models import AccessRequest, Grant, Template, WebhookEndpoint


def timestamp(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, or None."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _items(items: list | None) -> list[dict]:
    return [
        {
            "platform": item["platform"],
            "asset_type": item["asset_type"],
            "permissions": list(item.get("permissions") or []),
        }
        for item in items or []
    ]


def grant(row: Grant) -> dict:
    return {
        "id": row.id,
        "platform": row.platform,
        "asset_type": row.asset_type,
        "asset_id": row.asset_id,
        "asset_name": row.asset_name,
        "permissions": list(row.permissions or []),
        "status": row.status,
        "granted_at": timestamp(row.granted_at),
        "verified_at": timestamp(row.verified_at),
        "error": row.error,
        # Guided manual steps: what the client sent back (account number, code...).
        "sent_back": dict((row.external or {}).get("sent_back") or {}) or None,
    }


def access_request(row: AccessRequest, url: str | None = None) -> dict:
    from ..services.requests import request_url

    return {
        "id": row.id,
        "url": url or request_url(row),
        # "draft" is internal (never made through the API); shown as sent.
        "status": "sent" if row.status == "draft" else row.status,
        "client": {
            "name": row.client.name,
            "email": row.client.email,
            "locale": row.locale or None,
        },
        "external_id": row.external_id,
        "created_at": timestamp(row.created_at),
        "expires_at": timestamp(row.expires_at),
        "completed_at": timestamp(row.completed_at),
        "items": _items(row.items),
        "grants": [grant(g) for g in row.grants],
    }


def template(row: Template) -> dict:
    return {
        "id": row.id,
        "name": row.name,
        "message": row.message,
        "items": _items(row.items),
        "created_at": timestamp(row.created_at),
    }


def webhook_endpoint(row: WebhookEndpoint) -> dict:
    return {
        "id": row.id,
        "url": row.url,
        "events": list(row.events or []),
        "description": row.description,
        "created_at": timestamp(row.created_at),
        "disabled_at": timestamp(row.disabled_at),
        "disabled_reason": row.disabled_reason,
    }


def platform_list() -> list[dict]:
    return [
        {
            "id": connector.id,
            "name": str(connector.name),
            "asset_types": [
                {
                    "id": asset_type.id,
                    "name": str(asset_type.name),
                    "permissions": [
                        {"id": p.id, "label": str(p.label)} for p in asset_type.permissions
                    ],
                }
                for asset_type in connector.asset_types
            ],
        }
        for connector in platforms.all_connectors()
    ]
