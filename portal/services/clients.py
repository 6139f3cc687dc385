"""The agency's clients: listing and looking up, with their requests."""

from __future__ import annotations

from sqlalchemy import func, or_, select

from ..extensions import db
from ..models import AccessRequest, Client

PER_PAGE = 25


def list_clients(agency_id: int, q: str = "", page: int = 1, per_page: int = PER_PAGE):
    """(rows of (client, request count, last request at), total): two queries."""
    # Deleted clients (personal data erased) are not listed; their requests still count.
    where = [Client.agency_id == agency_id, Client.erased_at.is_(None)]
    q = (q or "").strip().lower()
    if q:
        where.append(
            or_(
                # Prefixes: index range scans (see the Client model's indexes).
                func.lower(Client.name).startswith(q, autoescape=True),
                func.lower(Client.email).startswith(q, autoescape=True),
                Client.external_id == q,
            )
        )
    total = db.session.scalar(select(func.count()).select_from(Client).where(*where))
    n_requests = (
        select(func.count())
        .where(AccessRequest.client_id == Client.id)
        .correlate(Client)
        .scalar_subquery()
    )
    last = (
        select(func.max(AccessRequest.created_at))
        .where(AccessRequest.client_id == Client.id)
        .correlate(Client)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(Client, n_requests.label("n"), last.label("last"))
        .where(*where)
        .order_by(func.lower(Client.name), Client.id)
        .limit(per_page)
        .offset((max(page, 1) - 1) * per_page)
    ).all()
    return rows, total or 0


def requests_of(client: Client) -> list[AccessRequest]:
    return list(
        db.session.execute(
            select(AccessRequest)
            .where(
                AccessRequest.client_id == client.id,
                AccessRequest.agency_id == client.agency_id,
            )
            .order_by(AccessRequest.created_at.desc())
            .limit(200)
        ).scalars()
    )
