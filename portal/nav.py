"""The agency area's navigation: each area registers its entries here."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, g, request, url_for
from werkzeug.routing import BuildError

from .models import ROLE_RANK


@dataclass(frozen=True)
class NavEntry:
    endpoint: str
    label: object  # lazy string
    min_role: str
    order: int
    prefix: str  # endpoints starting with this mark the entry current


_ENTRIES: list[NavEntry] = []


def add(endpoint: str, label, min_role: str = "viewer", order: int = 50, prefix: str = "") -> None:
    if any(e.endpoint == endpoint for e in _ENTRIES):
        return
    _ENTRIES.append(NavEntry(endpoint, label, min_role, order, prefix or endpoint))
    _ENTRIES.sort(key=lambda e: e.order)


def init_app(app: Flask) -> None:
    @app.context_processor
    def inject_nav():
        def admin_nav():
            membership = g.get("membership")
            if membership is None:
                return []
            items = []
            for entry in _ENTRIES:
                if ROLE_RANK[membership.role] < ROLE_RANK[entry.min_role]:
                    continue
                try:
                    url = url_for(entry.endpoint)
                except BuildError:
                    continue
                current = (request.endpoint or "").startswith(entry.prefix)
                items.append({"url": url, "label": entry.label, "current": current})
            return items

        return {"admin_nav": admin_nav}
