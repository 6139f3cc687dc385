"""The human API page: how to authenticate, every operation, how to verify webhooks."""

from __future__ import annotations

from ..api.openapi import document
from ..auth.session import role_required
from ..events import PUBLIC_EVENTS
from ..web import render
from . import bp


@bp.get("/api/docs")
@role_required("member")
def api_docs():
    spec = document()
    operations = []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            operations.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "statuses": [s for s in op["responses"] if s != "default"],
                    "body": (op.get("requestBody") or {})
                    .get("content", {})
                    .get("application/json", {})
                    .get("schema", {})
                    .get("$ref", "")
                    .rsplit("/", 1)[-1],
                    "params": [p["name"] for p in op.get("parameters", [])],
                }
            )
    return render("admin/api/docs.html", operations=operations, events=PUBLIC_EVENTS, spec=spec)
