"""The agency's clients, with their requests."""

from __future__ import annotations

from flask import abort, g, request, url_for
from flask_babel import lazy_gettext as _l

from .. import nav
from ..auth.session import role_required
from ..models import Client
from ..services import clients as service
from ..web import get_for_agency, render
from . import bp

nav.add("admin.client_list", _l("Clients"), min_role="viewer", order=25, prefix="admin.client")


@bp.get("/clients")
@role_required("viewer")
def client_list():
    q = (request.args.get("q") or "").strip()[:200]
    page = max(request.args.get("page", 1, type=int), 1)
    rows, total = service.list_clients(g.agency_id, q, page)
    pages = max((total + service.PER_PAGE - 1) // service.PER_PAGE, 1)
    if page > pages and total:
        abort(404)

    def page_url(n: int) -> str:
        return url_for("admin.client_list", q=q or None, page=n if n > 1 else None)

    return render(
        "admin/clients/list.html",
        "results",
        rows=rows,
        q=q,
        page=page,
        pages=pages,
        total=total,
        page_url=page_url,
    )


@bp.get("/clients/<int:client_id>")
@role_required("viewer")
def client_detail(client_id: int):
    client = get_for_agency(Client, client_id)
    return render("admin/clients/detail.html", client=client, requests=service.requests_of(client))
