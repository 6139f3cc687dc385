"""Webhook jobs, run by RQ on the "webhooks" queue."""

from __future__ import annotations

from worker import job

from . import service


@job
def fan_out_event(
    event_id: str, event_type: str, agency_id: int, access_request_id: int, occurred_at: str
) -> int:
    """Record and queue one delivery per endpoint subscribed to the event."""
    return len(service.fan_out(event_id, event_type, agency_id, access_request_id, occurred_at))


@job
def deliver_webhook(delivery_id: int) -> str:
    """One attempt; a failure raises so RQ retries it on the jittered schedule."""
    result = service.attempt(delivery_id)
    if result == "retry":
        raise service.DeliveryFailed(f"webhook delivery {delivery_id} failed; will retry")
    return result
