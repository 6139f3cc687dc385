"""Helpers for the form fuzzer (tests/test_fuzz_forms.py): reading a page's
forms as a browser would send them, and a fingerprint of the saved data."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlsplit

from sqlalchemy import Text, cast, func, literal, literal_column, or_, select, union_all
from sqlalchemy.dialects.postgresql import aggregate_order_by

from portal.extensions import db

# The app's own tables that hold what agencies and clients saved.
PROTECTED_TABLES = (
    "agency", "user", "membership", "invitation", "client", "access_request", "grant",
    "template", "custom_tool", "webhook_endpoint", "api_key", "agency_connection",
)  # fmt: skip


# ------------------------------------------------------------- page reading


@dataclass
class Form:
    """A form as a browser sends it: its fields (a select's chosen option, the
    checked boxes, or a group's first box when none is checked), and apart,
    its buttons (only the one clicked is sent)."""

    action: str
    method: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    htmx: bool = False
    unchecked: dict[str, str] = field(default_factory=dict)
    buttons: dict[str, str] = field(default_factory=dict)
    required: set[str] = field(default_factory=set)

    def sent(self) -> list[tuple[str, str]]:
        names = {n for n, _v in self.fields}
        return self.fields + [(n, v) for n, v in self.unchecked.items() if n not in names]

    def merge(self, other: Form) -> None:
        names = {n for n, _v in self.fields}
        self.fields += [(n, v) for n, v in other.fields if n not in names]
        self.unchecked = {**other.unchecked, **self.unchecked}
        self.buttons = {**other.buttons, **self.buttons}
        self.required |= other.required


class PageForms(HTMLParser):
    """Forms, htmx-posting elements and link parameters of a page."""

    def __init__(self, page: str):
        super().__init__()
        self.page = page
        self.forms: list[Form] = []
        self.params: set[str] = set()
        self._open: list[Form] = []
        self._select: int | None = None  # the field of the <select> being read

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and "?" in a.get("href", ""):
            self.params.update(k for k, _v in parse_qsl(urlsplit(a["href"]).query))
        hx = a.get("hx-post") or a.get("hx-get")
        if tag == "form":
            method = "post" if a.get("hx-post") else a.get("method", "get").lower()
            form = Form(a.get("action") or hx or self.page, method, htmx=bool(hx))
            self.forms.append(form)
            self._open.append(form)
        elif hx and not self._open:  # an element of its own that posts (in a form: a field)
            form = Form(hx, "post" if a.get("hx-post") else "get", htmx=True)
            if a.get("name"):
                form.fields.append((a["name"], a.get("value", "")))
            self.forms.append(form)
        if tag in ("input", "select", "textarea", "button") and a.get("name") and self._open:
            form, kind = self._open[-1], a.get("type", "submit" if tag == "button" else "text")
            name, value = a["name"], a.get("value", "")
            if kind == "file":
                return
            if "required" in a:
                form.required.add(name)
            if kind == "submit":
                form.buttons.setdefault(name, value)
            elif kind in ("checkbox", "radio") and "checked" not in a:
                form.unchecked.setdefault(name, value)
            else:
                form.fields.append((name, value))
            self._select = len(form.fields) - 1 if tag == "select" else None
        elif tag == "option" and self._select is not None and self._open:
            # A select sends its chosen option: the selected one, else the first.
            fields = self._open[-1].fields
            name, value = fields[self._select]
            if not value or "selected" in a:
                fields[self._select] = (name, a.get("value", ""))

    def handle_endtag(self, tag):
        if tag == "form" and self._open:
            self._open.pop()
        if tag == "select":
            self._select = None


def read_page(html: str, page: str) -> PageForms:
    parser = PageForms(page)
    parser.feed(html)
    return parser


# ------------------------------------------------------------ saved data


def _table_queries(only_agency: int | None, but_agency: int | None) -> list:
    """Per protected table: a query of its rows (one agency's, or all but one agency's)."""
    queries = []
    for name in PROTECTED_TABLES:
        table = db.metadata.tables[name]
        stmt = select(table).order_by(*table.primary_key.columns)
        if "agency_id" in table.c:
            owner = table.c.agency_id
        elif name == "agency":
            owner = table.c.id
        elif name == "user":
            membership = db.metadata.tables["membership"]
            if only_agency is not None:
                members = select(membership.c.user_id).where(membership.c.agency_id == only_agency)
                stmt = stmt.where(table.c.id.in_(members))
            queries.append((name, stmt))
            continue
        else:
            owner = None
        if owner is not None and only_agency is not None:
            stmt = stmt.where(owner == only_agency)
        if owner is not None and but_agency is not None:
            stmt = stmt.where(or_(owner.is_(None), owner != but_agency))
        queries.append((name, stmt))
    return queries


_DIGEST_SQL: dict = {}


def digest(only_agency: int | None = None, but_agency: int | None = None) -> dict[str, str]:
    """A fingerprint of the saved rows, by table: one agency's, or all but one agency's."""
    key = (db.engine.dialect.name, only_agency, but_agency)
    found = {}
    if db.engine.dialect.name == "postgresql":
        # One round trip: each table's rows as text, hashed by the database.
        if key not in _DIGEST_SQL:
            parts = []
            for name, stmt in _table_queries(only_agency, but_agency):
                sub = stmt.order_by(None).subquery(f"rows_{name}")
                row = cast(literal_column(f"rows_{name}"), Text)  # the whole row as text
                rows = func.string_agg(row, aggregate_order_by(literal("|"), row))
                parts.append(
                    select(literal(name), func.md5(func.coalesce(rows, ""))).select_from(sub)
                )
            statement = union_all(*parts)
            _DIGEST_SQL[key] = str(
                statement.compile(db.engine, compile_kwargs={"literal_binds": True})
            )
        found = dict(db.session.connection().exec_driver_sql(_DIGEST_SQL[key]).all())
    else:
        for name, stmt in _table_queries(only_agency, but_agency):
            rows = db.session.execute(stmt).all()
            found[name] = hashlib.sha256(repr(rows).encode("utf-8", "surrogatepass")).hexdigest()
    db.session.rollback()
    return found


def changed(before: dict, after: dict) -> list[str]:
    return sorted(name for name in after if before.get(name) != after[name])
